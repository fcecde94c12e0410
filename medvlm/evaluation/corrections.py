"""What clinicians changed between the model's ORIGINAL draft and the signed FINAL report.

One definition, used by the corrections stage (which findings a correction re-teaches) and by the
correction-burden view (per-finding acceptance, additions, removals, text edit distance).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import mean, median
from typing import Any

from medvlm.findings import NO_FINDING, Finding, Presence

# A finding's stated state: presence (present / uncertain), side, severity. Absent findings have none.
State = tuple[str, str | None, str | None]


def finding_states(findings: Iterable[Finding | Mapping[str, Any]]) -> dict[str, State]:
    """label -> state of every present or uncertain finding (``no_finding`` left out: it is implied)."""
    out: dict[str, State] = {}
    for item in findings:
        f = item if isinstance(item, Finding) else Finding.from_dict(dict(item))
        if f.presence is Presence.ABSENT or f.label == NO_FINDING:
            continue
        side = str(f.laterality.value) if f.laterality else None
        out[f.label] = (str(f.presence.value), side, f.severity)
    return out


def changed_labels(original: Iterable[Any], final: Iterable[Any]) -> set[str]:
    """Findings whose state the clinician changed: added, removed, or another side / severity / certainty."""
    before, after = finding_states(original), finding_states(final)
    return {label for label in set(before) | set(after) if before.get(label) != after.get(label)}


def word_edit_distance(a: str, b: str) -> int:
    """Levenshtein distance over words (insertions, deletions, substitutions of whole words)."""
    x, y = a.split(), b.split()
    previous = list(range(len(y) + 1))
    for i, word in enumerate(x, 1):
        current = [i]
        for j, other in enumerate(y, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class Pair:
    """One signed report: the model's draft and what was signed (findings as dicts, text sections)."""

    model_version: str
    original_findings: Sequence[Any]
    final_findings: Sequence[Any]
    original_text: str
    final_text: str


COUNTS = ("drafted", "accepted", "added", "removed", "changed")


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def correction_burden(pairs: Iterable[Pair]) -> list[dict[str, Any]]:
    """Per model version: reports, share signed unchanged, text edit distance (words, and per word of the
    longer text), and per finding how often the draft stated it (``drafted``), how often the clinician kept
    that state (``accepted``, ``acceptance_rate``), added it, removed it, or changed its side / severity."""
    versions: dict[str, list[Pair]] = {}
    for pair in pairs:
        versions.setdefault(pair.model_version, []).append(pair)
    out = []
    for version, items in sorted(versions.items()):
        per: dict[str, dict[str, int]] = {}
        distances, normalised, unchanged = [], [], 0
        for p in items:
            before, after = finding_states(p.original_findings), finding_states(p.final_findings)
            for label in set(before) | set(after):
                row = per.setdefault(label, dict.fromkeys(COUNTS, 0))
                if label in before:
                    row["drafted"] += 1
                    if before[label] == after.get(label):
                        row["accepted"] += 1
                    elif label in after:
                        row["changed"] += 1
                    else:
                        row["removed"] += 1
                else:
                    row["added"] += 1
            d = word_edit_distance(p.original_text, p.final_text)
            distances.append(d)
            normalised.append(d / max(len(p.original_text.split()), len(p.final_text.split()), 1))
            unchanged += d == 0 and before == after
        out.append({
            "model_version": version,
            "reports": len(items),
            "unchanged_rate": _rate(unchanged, len(items)),
            "text_edit_distance": {
                "mean_words": round(mean(distances), 3),
                "median_words": float(median(distances)),
                "mean_per_word": round(mean(normalised), 4),
            },
            "findings": [
                {"label": label, **row, "acceptance_rate": _rate(row["accepted"], row["drafted"])}
                for label, row in sorted(per.items())
            ],
        })
    return out
