"""Laterality, severity and location of a mention, read from its own noun phrase.

The phrase is the mention plus the words before it back to the previous mention (or the clause start)
and the words after it up to the next mention, a comma or "and": "small left pleural effusion",
"opacity in the right lower lobe", "effusions bilaterally". Only values the ontology allows for the
finding are returned.
"""

from __future__ import annotations

import re
from functools import lru_cache

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


def laterality_of(text: str, spec: FindingSpec, strict: bool = False) -> Laterality | None:
    """The side named in ``text``; with ``strict``, None unless the text names exactly one side word
    (a whole clause or sentence may describe other findings on the other side)."""
    if not spec.lateralities:
        return None
    sides = {side for side, pattern in _SIDES if pattern.search(text)}
    if strict and len(sides) > 1:
        return None
    if not sides:
        sides = {side for side, pattern in _IMPLIED_SIDES if pattern.search(text)}
    if Laterality.BILATERAL in sides or {Laterality.LEFT, Laterality.RIGHT} <= sides:
        side: Laterality | None = Laterality.BILATERAL
    else:
        side = next(iter(sides), None)
    if side is None or side.value not in spec.lateralities:
        return None
    return side


_BEFORE_WORD = r"(?:(?<![\w-])|(?<=\bto-))"
_AFTER_WORD = r"(?!\w|-(?!sized\b|to\b))"


@lru_cache(maxsize=1024)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    """Whole-word alternation, longest first; cached: it is asked for per mention, level and location."""
    ordered = sorted(words, key=len, reverse=True)
    return re.compile(
        # "moderate-sized" and "small-to-moderate" still hold the words; other hyphenated words do not.
        "|".join(_BEFORE_WORD + re.escape(w).replace(r"\ ", r"[\s-]+") + _AFTER_WORD for w in ordered),
        re.I,
    )


def severity_of(text: str, spec: FindingSpec, ontology: Ontology) -> str | None:
    """The most severe level of the finding's scale whose words occur in ``text``; a level written as
    the past ("previously large", "from small") does not count."""
    text = _PAST_LEVEL.sub(" ", text)
    found = None
    for level in spec.severities:
        if _word_pattern((*ontology.severity_words.get(level, []), level)).search(text):
            found = level
    return found


# "previously large", "formerly moderate", "from small (to moderate)": the level before the change.
_PAST_LEVEL = re.compile(r"\b(?:previously|formerly|was|from)\s+(?:\w+\s+)?\w+", re.I)
# "now moderate (to large)", "from small to moderate": the level after it, up to a comma or full stop.
_NOW_LEVEL = re.compile(r"\b(?:now|currently)\s+([^,;.]*)|\bfrom\s+\w+(?:\s+\w+)?\s+to\s+([^,;.]*)", re.I)


def severity_change(text: str, spec: FindingSpec, ontology: Ontology) -> tuple[str | None, str | None]:
    """The level written as now ("has increased, now moderate") and the change it implies against a level
    written as before ("previously large, now small" -> improved); (None, None) when none is written."""
    if not spec.severities:
        return None, None
    now = None
    for match in _NOW_LEVEL.finditer(text):
        now = severity_of(match.group(1) or match.group(2) or "", spec, ontology) or now
    if now is None:
        return None, None
    before = [severity_of(m.group(0).split(None, 1)[1], spec, ontology) for m in _PAST_LEVEL.finditer(text)]
    was = next((level for level in before if level), None)
    if was is None or was == now:
        return now, None
    rank = spec.severities.index
    return now, "worsened" if rank(now) > rank(was) else "improved"


def location_of(text: str, spec: FindingSpec, ontology: Ontology, strict: bool = False) -> str | None:
    """The first allowed location (or device type, for support devices) named in ``text``; with
    ``strict``, None when the text names more than one."""
    vocabulary = ontology.device_types if spec.name == "support_device" else ontology.location_words
    found: list[tuple[int, str]] = []
    for name in spec.locations:
        match = _word_pattern((*vocabulary.get(name, []), name)).search(text)
        if match:
            found.append((match.start(), name))
    if not found or (strict and len(found) > 1):
        return None
    return min(found)[1]
