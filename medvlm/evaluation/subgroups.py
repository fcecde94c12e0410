"""Findings AUROC by subgroup of how the film was taken: projection, detector, the vendor's processing look,
scatter model, CT patient.

A model that reads one vendor's look, or one kind of film, well and another badly shows the gap here before a
new site does. Read from the manifest's provenance (synthetic builds record their acquisition; an imported
archive records none, and gets no subgroups). Each subgroup's AUROC is discrimination within it: subgroups
differ in case mix (supine films carry more devices and effusions), so compare one finding across subgroups
rather than the macro alone where the finding sets differ.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from medvlm.evaluation.classification import auroc, known_only, macro, supported_macro
from medvlm.evaluation.scoring import known_matrix, probability_matrix, truth_matrix
from medvlm.findings import Finding

# subgroup name -> where in a record's provenance its value sits
SUBGROUPS: dict[str, tuple[str, ...]] = {
    "projection": ("render", "acquisition", "projection"),
    "modality": ("render", "acquisition", "modality"),
    "processing": ("render", "acquisition", "processing"),
    "scatter_model": ("render", "acquisition", "scatter_model"),
    "ct_patient": ("ct_patient",),
}
MIN_STUDIES = 30  # a smaller subgroup's AUROC is mostly noise


def provenance_value(provenance: Mapping[str, Any], path: Sequence[str]) -> str | None:
    value: Any = provenance
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return None if value is None else str(value)


def subgroup_aurocs(names: Sequence[str], predicted: Sequence[Sequence[Finding]],
                    truth: Sequence[Sequence[Finding]], provenances: Sequence[Mapping[str, Any]],
                    min_studies: int | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """{subgroup: {value: {n, macro_auroc, macro_auroc_supported, per_finding}}} for every subgroup with
    at least two values of ``min_studies`` (default ``MIN_STUDIES``) studies or more (one value alone says
    nothing)."""
    min_studies = MIN_STUDIES if min_studies is None else min_studies
    t, k, p = truth_matrix(names, truth), known_matrix(names, truth), probability_matrix(names, predicted)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for subgroup, path in SUBGROUPS.items():
        members: dict[str, list[int]] = defaultdict(list)
        for i, provenance in enumerate(provenances):
            if (value := provenance_value(provenance, path)) is not None:
                members[value].append(i)
        groups = {v: rows for v, rows in sorted(members.items()) if len(rows) >= min_studies}
        if len(groups) < 2:
            continue
        out[subgroup] = {value: _scores(names, t[rows], k[rows], p[rows]) for value, rows in groups.items()}
    return out


def _scores(names: Sequence[str], t: np.ndarray, k: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    aurocs = [auroc(*known_only(t[:, j], p[:, j], k[:, j])) for j in range(len(names))]
    positives = [int((t[:, j] * k[:, j]).sum()) for j in range(len(names))]
    return {
        "n": int(t.shape[0]),
        "macro_auroc": macro(aurocs),
        "macro_auroc_supported": supported_macro(aurocs, positives),
        "per_finding": {name: {"auroc": a, "support": s}
                        for name, a, s in zip(names, aurocs, positives, strict=True)},
    }


def subgroup_summary(by_subgroup: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    """One terminal line per subgroup: each value's supported macro-AUROC and its study count."""
    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    return [f"  {subgroup}: " + ", ".join(f"{value} {fmt(s['macro_auroc_supported'])} ({s['n']})"
                                          for value, s in groups.items())
            for subgroup, groups in by_subgroup.items()]
