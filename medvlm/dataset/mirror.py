"""A report's findings moved to the other side (left for right), for the rare-finding extra films.

IU's few reports of a rare finding lean to one side (the train reports with a pneumothorax: 12
right-sided, 4 left), and every extra film of a report repeats its side, so a model learns "pneumothorax"
as "something at the right apex". With ``--mirror``, half of the extra films show the same words mirrored:
the finding drawn on the other side and the report's left and right swapped, as true a report as the
original. Off by default: a model trained so read no better (docs/performance.md).

A report is mirrored only where swapping the two words keeps it anatomy: no structure that exists on one
side only (the middle lobe and the lingula, the minor fissure, the heart's chambers, the aorta, the
azygos), and at least one finding on one side (else the film would not change).
"""

from __future__ import annotations

import re
from dataclasses import replace

from medvlm.findings import Finding, Laterality

_SIDE_WORD = re.compile(r"\b(right|left)(ward)?\b", re.IGNORECASE)
# Words naming what has no mirror image, so that the swapped sentence would describe no patient.
_ONE_SIDED = re.compile(
    r"middle lobe|lingul|minor fissure|horizontal fissure|ventric|atri(?:um|al)|aort|azygos|dextro|levo"
    r"|retrocardiac|paratracheal|situs",
    re.IGNORECASE,
)
_ONE_SIDED_LOCATIONS = frozenset({"middle lobe", "lingula", "retrocardiac"})
_OTHER = {"right": "left", "left": "right"}
_OTHER_SIDE = {Laterality.LEFT: Laterality.RIGHT, Laterality.RIGHT: Laterality.LEFT}


def can_mirror(findings: list[Finding], *texts: str) -> bool:
    """Whether the report describes a film that mirroring changes and whose mirror image is anatomy."""
    if not any(f.laterality in _OTHER_SIDE for f in findings):
        return False
    if any(f.location in _ONE_SIDED_LOCATIONS for f in findings):
        return False
    return not any(_ONE_SIDED.search(t or "") for t in (*texts, *(f.evidence or "" for f in findings)))


def mirrored_text(text: str) -> str:
    """``text`` with left and right (and leftward, rightward) swapped, keeping each word's case."""

    def swap(match: re.Match[str]) -> str:
        word, ward = match.group(1), match.group(2) or ""
        other = _OTHER[word.lower()]
        if word.isupper():
            other = other.upper()
        elif word[0].isupper():
            other = other.capitalize()
        return other + ward

    return _SIDE_WORD.sub(swap, text)


def mirrored_findings(findings: list[Finding]) -> list[Finding]:
    """Each one-sided finding on the other side (its evidence text swapped with it)."""
    return [
        replace(
            f,
            laterality=_OTHER_SIDE.get(f.laterality, f.laterality),
            evidence=mirrored_text(f.evidence) if f.evidence else f.evidence,
        )
        for f in findings
    ]
