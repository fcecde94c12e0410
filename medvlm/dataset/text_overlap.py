"""Exact-duplicate report text between splits: the leak a word-for-word memoriser would exploit.

Text is compared after normalisation (lower case, punctuation and runs of white space folded to one
space), so "Heart size normal.  Lungs clear." and "heart size normal lungs clear" are the same report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import combinations

_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise_text(findings: str, impression: str = "") -> str:
    return _NON_WORD.sub(" ", f"{findings} {impression}".lower()).strip()


def split_overlap(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """For (split, normalised text) pairs: per split pair ``"a|b"``, the distinct texts both hold and the
    studies of ``b`` whose text also occurs in ``a``."""
    texts: dict[str, list[str]] = {}
    for split, text in pairs:
        texts.setdefault(split, []).append(text)
    out: dict[str, dict[str, int]] = {}
    for a, b in combinations(sorted(texts), 2):
        seen_a, seen_b = set(texts[a]), set(texts[b])
        shared = seen_a & seen_b
        out[f"{a}|{b}"] = {
            "shared_texts": len(shared),
            f"{b}_studies_with_{a}_text": sum(t in seen_a for t in texts[b]),
            f"{a}_studies_with_{b}_text": sum(t in seen_b for t in texts[a]),
        }
    return out


def overlap_lines(overlap: dict[str, dict[str, int]]) -> list[str]:
    return [
        f"  {pair.replace('|', ' / ')}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
        for pair, counts in overlap.items()
    ]
