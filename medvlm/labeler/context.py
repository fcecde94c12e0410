"""Negation, uncertainty and change cues around a mention (NegEx-style, scoped to one clause).

A cue before the mention ("no", "without", "possible", "cannot exclude") or after it ("is not seen",
"has resolved", "cannot be excluded") sets its presence; when cues of both kinds precede it, the nearer
one wins ("no effusion, possible atelectasis"). Pseudo-negations ("no change", "not significantly
changed") are removed first so they do not negate what follows.
"""

from __future__ import annotations

import re

from medvlm.findings import Presence


def _alt(*phrases: str) -> str:
    return "|".join(r"\b" + p.replace(" ", r"\s+") + r"\b" for p in sorted(phrases, key=len, reverse=True))


PSEUDO_NEGATION = re.compile(
    _alt(
        "no change",
        "no significant change",
        "no interval change",
        "no significant interval change",
        "not significantly changed",
        "not changed",
        "without change",
        "without significant change",
        "no appreciable change",
        "not significantly different",
        "no longer than",
        "not only",
        "without interval change",
        "no other",
        "no significant",
        "no substantial change",
        "no acute change",
    ),
    re.IGNORECASE,
)
UNCERTAIN_BEFORE = re.compile(
    _alt(
        "possible",
        "possibly",
        "probable",
        "questionable",
        "question of",
        "questioned",
        "suspicious for",
        "suspected",
        "suspect",
        "concerning for",
        "concern for",
        "may represent",
        "may reflect",
        "may be",
        "may have",
        "might",
        "could represent",
        "could reflect",
        "could be",
        "cannot exclude",
        "can not exclude",
        "cannot rule out",
        "can not rule out",
        "can't exclude",
        "not excluded",
        "not ruled out",
        "differential",
        "versus",
        "vs",
        "equivocal",
        "indeterminate",
        "uncertain",
        "suggestive of",
        "suggests",
        "suggesting",
        "suggest",
        "rule out",
        "r/o",
        "worrisome for",
        "raise the possibility",
        "raises the possibility",
    ),
    re.IGNORECASE,
)
UNCERTAIN_AFTER = re.compile(
    _alt(
        "cannot be excluded",
        "can not be excluded",
        "cannot be ruled out",
        "can not be ruled out",
        "not excluded",
        "not ruled out",
        "is possible",
        "are possible",
        "is suspected",
        "are suspected",
        "is questioned",
        "not entirely excluded",
        "not completely excluded",
        "is not excluded",
        "versus",
        "vs",
        "could be",
        "may be",
        "is not entirely excluded",
        "difficult to exclude",
        "can't be excluded",
    ),
    re.IGNORECASE,
)
NEGATION_BEFORE = re.compile(
    _alt(
        "no",
        "not",
        "without",
        "negative for",
        "free of",
        "absence of",
        "absent",
        "clear of",
        "resolution of",
        "resolved",
        "removal of",
        "removed",
        "neither",
        "nor",
        "never",
        "no longer",
        "interval resolution of",
        "interval removal of",
        "rather than",
        "ruled out",
        "clearing of",
        "normal",
    ),
    re.IGNORECASE,
)
NEGATION_AFTER = re.compile(
    _alt(
        "not seen",
        "not identified",
        "not visualized",
        "not evident",
        "not appreciated",
        "not demonstrated",
        "not present",
        "not noted",
        "not detected",
        "not enlarged",
        "not apparent",
        "not visible",
        "not definitely seen",
        "not well seen",
        "is absent",
        "are absent",
        "has resolved",
        "have resolved",
        "resolved",
        "has cleared",
        "have cleared",
        "cleared",
        "no longer",
        "has been removed",
        "have been removed",
        "removed",
        "is gone",
        "are gone",
        "not clearly seen",
        "not clearly identified",
        "not significantly enlarged",
        "is normal",
        "are normal",
        "within normal limits",
        "is not",
        "are not",
        "not",
        "has disappeared",
        "have disappeared",
        "has been withdrawn",
    ),
    re.IGNORECASE,
)

# "resolving" is a change word of a present finding when it is not preceded by a negation.
CHANGE_WORDS: list[tuple[str, re.Pattern[str]]] = [
    (
        "resolved",
        re.compile(_alt("resolved", "resolution", "cleared", "clearing", "removed", "removal"), re.I),
    ),
    (
        "worsened",
        re.compile(
            _alt(
                "worse",
                "worsened",
                "worsening",
                "increased",
                "increasing",
                "progressed",
                "progression",
                "progressive",
                "enlarging",
                "larger",
                "enlarged since",
                "greater",
            ),
            re.I,
        ),
    ),
    (
        "improved",
        re.compile(
            _alt(
                "improved",
                "improving",
                "improvement",
                "decreased",
                "decreasing",
                "smaller",
                "less",
                "diminished",
                "resolving",
                "partially resolved",
                "near resolution",
                "nearly resolved",
            ),
            re.I,
        ),
    ),
    (
        "new",
        re.compile(_alt("new", "newly", "developing", "interval development", "interval appearance"), re.I),
    ),
    (
        "unchanged",
        re.compile(
            _alt(
                "unchanged",
                "stable",
                "again seen",
                "again noted",
                "again demonstrated",
                "persistent",
                "persists",
                "persisting",
                "redemonstrated",
                "re-demonstrated",
                "no change",
                "not changed",
                "similar",
                "chronic",
                "old",
                "remains",
                "remain",
                "again",
            ),
            re.I,
        ),
    ),
]


def _last(pattern: re.Pattern[str], text: str) -> int:
    """Offset of the last match's end in ``text`` (-1 when none)."""
    ends = [m.end() for m in pattern.finditer(text)]
    return ends[-1] if ends else -1


def _mask(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def presence_of(before: str, after: str) -> Presence:
    """Presence of a mention given the clause text before and after it."""
    before = _mask(PSEUDO_NEGATION, before)
    after = _mask(PSEUDO_NEGATION, after)
    unc = _last(UNCERTAIN_BEFORE, before)
    masked = _mask(UNCERTAIN_BEFORE, before)
    neg = _last(NEGATION_BEFORE, masked)
    if unc >= 0 or neg >= 0:
        return Presence.UNCERTAIN if unc > neg else Presence.ABSENT
    if UNCERTAIN_AFTER.search(after):
        return Presence.UNCERTAIN
    if NEGATION_AFTER.search(_mask(UNCERTAIN_AFTER, after)):
        return Presence.ABSENT
    return Presence.PRESENT


def change_of(clause: str, presence: Presence) -> str | None:
    """The change word of the clause: resolved / worsened / improved / new / unchanged (first kind found)."""
    text = _mask(PSEUDO_NEGATION, clause)
    for kind, pattern in CHANGE_WORDS:
        if pattern.search(text):
            if kind == "resolved" and presence != Presence.ABSENT:
                continue
            return kind
    if PSEUDO_NEGATION.search(clause) and re.search(r"change", clause, re.I):
        return "unchanged"
    return None
