"""Findings AUROC by acquisition subgroup: grouped by provenance, small or lone subgroups left out."""

from __future__ import annotations

import numpy as np
import pytest

from medvlm.evaluation.subgroups import provenance_value, subgroup_aurocs, subgroup_summary
from medvlm.findings import Finding, Presence

NAMES = ["cardiomegaly", "no_finding"]


def _called(p: float) -> list[Finding]:
    presence = Presence.PRESENT if p >= 0.5 else Presence.ABSENT
    return [Finding("cardiomegaly", presence=presence, probability=p),
            Finding("no_finding", presence=Presence.ABSENT, probability=1 - p)]


def _prov(projection: str, processing: str | None = "unsharp") -> dict:
    acquisition = {"projection": projection, "modality": "DX"}
    if processing is not None:
        acquisition["processing"] = processing
    return {"ct_patient": "A", "render": {"acquisition": acquisition}}


def _studies(n: int, separable: bool, rng: np.random.Generator) -> tuple[list, list]:
    """n studies, half with cardiomegaly; probabilities that separate them perfectly, or at random."""
    truth = [[Finding("cardiomegaly")] if i % 2 else [] for i in range(n)]
    probs = [(0.9 if i % 2 else 0.1) if separable else float(rng.uniform()) for i in range(n)]
    return truth, [_called(p) for p in probs]


def test_each_projection_is_scored_on_its_own_studies() -> None:
    rng = np.random.default_rng(0)
    pa_truth, pa_called = _studies(40, True, rng)
    ap_truth, ap_called = _studies(40, False, rng)
    by = subgroup_aurocs(NAMES, pa_called + ap_called, pa_truth + ap_truth,
                         [_prov("PA")] * 40 + [_prov("AP")] * 40)
    assert set(by) == {"projection"}  # one modality, one look, one patient: nothing to compare
    assert by["projection"]["PA"]["n"] == 40
    assert by["projection"]["PA"]["per_finding"]["cardiomegaly"] == {"auroc": 1.0, "support": 20}
    assert by["projection"]["PA"]["macro_auroc_supported"] == pytest.approx(1.0)
    assert by["projection"]["AP"]["macro_auroc"] < 0.8
    lines = subgroup_summary(by)
    ap = by["projection"]["AP"]["macro_auroc_supported"]
    assert lines == [f"  projection: AP {ap:.3f} (40), PA 1.000 (40)"]


def test_small_subgroups_and_missing_provenance_are_left_out() -> None:
    rng = np.random.default_rng(1)
    truth, called = _studies(70, True, rng)
    provenances = [_prov("PA", "compress")] * 40 + [_prov("AP", None)] * 10 + [{}] * 20
    by = subgroup_aurocs(NAMES, called, truth, provenances)
    # 40 PA and 10 AP: the AP subgroup is too small, PA alone is no comparison; 20 records carry nothing
    assert by == {}
    by = subgroup_aurocs(NAMES, called, truth, provenances, min_studies=10)
    assert set(by) == {"projection"}
    assert {v: s["n"] for v, s in by["projection"].items()} == {"AP": 10, "PA": 40}


def test_provenance_value_follows_the_path_and_stops_where_it_ends() -> None:
    prov = _prov("PA")
    assert provenance_value(prov, ("render", "acquisition", "projection")) == "PA"
    assert provenance_value(prov, ("render", "acquisition", "scatter_model")) is None
    assert provenance_value(prov, ("ct_patient", "deeper")) is None
    assert provenance_value({}, ("ct_patient",)) is None
