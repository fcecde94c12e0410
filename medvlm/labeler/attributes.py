"""Laterality, severity and location of a mention, read from its own noun phrase.

The phrase is the mention plus the words before it back to the previous mention (or the clause start)
and the words after it up to the next mention, a comma or "and": "small left pleural effusion",
"opacity in the right lower lobe", "effusions bilaterally". Only values the ontology allows for the
finding are returned.
"""

from __future__ import annotations

import re

from medvlm.findings import Laterality
from medvlm.ontology import FindingSpec, Ontology

_SIDES = [
    (
        Laterality.BILATERAL,
        re.compile(r"\b(?:bilateral(?:ly)?|both|bibasilar|bibasal|biapical|bilobar)\b", re.I),
    ),
    (Laterality.LEFT, re.compile(r"\bleft\b", re.I)),
    (Laterality.RIGHT, re.compile(r"\bright\b", re.I)),
]
# Sides implied by anatomy, used only when no side word is written ("lingular opacity").
_IMPLIED_SIDES = [
    (Laterality.LEFT, re.compile(r"\blingula(?:r)?\b", re.I)),
    (Laterality.RIGHT, re.compile(r"\bmiddle lobe\b", re.I)),
]
_AFTER_STOP = re.compile(r",|\band\b|\bwith\b|\bno\b|\bwithout\b|\.|;", re.I)


def phrase_parts(clause: str, start: int, end: int, prev_end: int, next_start: int) -> tuple[str, str]:
    """Words before the mention (since the previous one) and after it (to the next one or a stop)."""
    before = clause[prev_end:start]
    after = clause[end:next_start]
    stop = _AFTER_STOP.search(after)
    return before, after[: stop.start()] if stop else after


def laterality_of(text: str, spec: FindingSpec) -> Laterality | None:
    if not spec.lateralities:
        return None
    sides = {side for side, pattern in _SIDES if pattern.search(text)}
    if not sides:
        sides = {side for side, pattern in _IMPLIED_SIDES if pattern.search(text)}
    if Laterality.BILATERAL in sides or {Laterality.LEFT, Laterality.RIGHT} <= sides:
        side: Laterality | None = Laterality.BILATERAL
    else:
        side = next(iter(sides), None)
    if side is None or side.value not in spec.lateralities:
        return None
    return side


def _word_pattern(words: list[str]) -> re.Pattern[str]:
    ordered = sorted(words, key=len, reverse=True)
    return re.compile(
        "|".join(r"(?<![\w-])" + re.escape(w).replace(r"\ ", r"[\s-]+") + r"(?![\w-])" for w in ordered), re.I
    )


def severity_of(text: str, spec: FindingSpec, ontology: Ontology) -> str | None:
    """The most severe level of the finding's scale whose words occur in ``text``."""
    found = None
    for level in spec.severities:
        words = [*ontology.severity_words.get(level, []), level]
        if _word_pattern(words).search(text):
            found = level
    return found


def location_of(text: str, spec: FindingSpec, ontology: Ontology) -> str | None:
    """The first allowed location (or device type, for support devices) named in ``text``."""
    vocabulary = ontology.device_types if spec.name == "support_device" else ontology.location_words
    best: tuple[int, str] | None = None
    for name in spec.locations:
        match = _word_pattern([*vocabulary.get(name, []), name]).search(text)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), name)
    return best[1] if best else None
