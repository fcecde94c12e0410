"""Password policy beyond length (NIST SP 800-63B 5.1.1.2: length, no common or context-specific words,
no repetition); checked when a password is set, never when one is used."""

from __future__ import annotations

import itertools

MIN_LENGTH = 12
# Passwords of breach lists and of this product's own context; a full breach corpus is not installable
# offline, so this list holds the most frequent ones an attacker tries first.
_COMMON = {
    "password", "passw0rd", "p@ssword", "p@ssw0rd", "123456", "12345678", "123456789", "1234567890",
    "qwerty", "qwertyuiop", "letmein", "welcome", "admin", "administrator", "iloveyou", "monkey", "dragon",
    "football", "baseball", "sunshine", "princess", "trustno1", "abc123", "changeme", "change-me",
    "radiology", "radiologist", "hospital", "medvlm", "doctor", "nurse", "pacs", "dicom", "secret",
}


def password_problem(password: str, *, username: str = "") -> str | None:
    """Why ``password`` may not be set (one readable sentence), or None when it may."""
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    lowered = password.lower()
    if len(set(lowered)) < 5:
        return "password repeats too few different characters"
    core = "".join(ch for ch in lowered if ch.isalnum())
    stripped = core.rstrip("0123456789").lstrip("0123456789")
    if lowered in _COMMON or core in _COMMON or stripped in _COMMON or any(
            core == word * (len(core) // max(len(word), 1)) for word in _COMMON if len(word) >= 3):
        return "password is a commonly used one"
    if username and len(username) >= 3 and username.lower() in lowered:
        return "password must not contain the username"
    if _sequential(core):
        return "password is a keyboard or number sequence"
    return None


def _sequential(text: str) -> bool:
    """Mostly one run of consecutive characters ("abcdefghijkl", "123456789012")."""
    if len(text) < MIN_LENGTH:
        return False
    steps = sum(1 for a, b in itertools.pairwise(text) if abs(ord(b) - ord(a)) == 1)
    return steps >= len(text) - 3
