"""Building a dataset: manifest round trip, determinism, IU pairing and splits, bad requests refused."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pydicom
import pytest

from medvlm.compliance.deid_text import deidentify_text
from medvlm.corpus.iu import iu_split, load_iu_reports
from medvlm.dataset.builder import build_dataset
from medvlm.dataset.errors import DatasetError
from medvlm.dataset.iu_source import iu_study
from medvlm.dataset.manifest import MANIFEST, manifest_hash, read_manifest
from medvlm.dataset.masks import CHANNELS, ORGANS, masks_path, read_masks
from medvlm.dataset.mirror import mirrored_findings, mirrored_text
from medvlm.findings import Presence
from medvlm.inference.indication import clean, from_dicom, from_report
from medvlm.ontology import load_ontology

SIZE = 96


@pytest.fixture(scope="module")
def template_set(atlas, atlas_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tpl")
    build_dataset(out, 12, seed=4, reports="template", size=SIZE, progress=False, data_dir=atlas_dir)
    return out


@pytest.fixture(scope="module")
def iu_set(atlas, atlas_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("iu")
    summary = build_dataset(out, 10, seed=1, reports="iu", size=SIZE, progress=False, data_dir=atlas_dir)
    return out, summary


def test_manifest_round_trip(template_set: Path) -> None:
    records = read_manifest(template_set)
    assert len(records) == 12
    lines = (template_set / MANIFEST).read_text().splitlines()
    for record, line in zip(records, lines, strict=True):
        assert record.to_json(template_set.resolve()) == json.loads(line)
        assert record.files[0].is_absolute() and record.files[0].is_file()
        assert record.files[0].parent.name == record.study_instance_uid
        assert pydicom.dcmread(record.files[0]).StudyInstanceUID == record.study_instance_uid
        assert record.split == iu_split(record.study_id) and record.report_source == "template"
        assert record.findings and all(f.presence != Presence.ABSENT for f in record.findings)
        assert record.findings_text and record.impression


def test_template_mix_has_normals_and_findings(template_set: Path) -> None:
    labels = [[f.label for f in r.findings] for r in read_manifest(template_set)]
    assert any(ls == ["no_finding"] for ls in labels)
    assert any("no_finding" not in ls for ls in labels)


def test_same_seed_same_dataset(template_set: Path, atlas_dir: Path, tmp_path: Path) -> None:
    build_dataset(
        tmp_path / "again", 12, seed=4, reports="template", size=SIZE, progress=False, data_dir=atlas_dir
    )
    assert manifest_hash(tmp_path / "again") == manifest_hash(template_set)
    first = read_manifest(template_set)[0].files[0].read_bytes()
    assert read_manifest(tmp_path / "again")[0].files[0].read_bytes() == first
    build_dataset(
        tmp_path / "other", 12, seed=5, reports="template", size=SIZE, progress=False, data_dir=atlas_dir
    )
    assert manifest_hash(tmp_path / "other") != manifest_hash(template_set)


def test_iu_films_carry_one_real_report_each(iu_set) -> None:
    out, summary = iu_set
    reports = {r.study_id: r for r in load_iu_reports()}
    onto = load_ontology()
    records = read_manifest(out)
    assert len(records) == 10 and summary.written == 10
    for record in records:
        report = reports[record.provenance["iu_study_id"]]
        assert record.report_source == "iu" and record.split == report.split == iu_split(report.study_id)
        assert (record.findings_text, record.impression) == (report.findings, report.impression)
        assert record.findings == iu_study(report, onto, keep_disagreement=report.split == "test").findings
    assert summary.iu_reports_seen == 10 + sum(summary.skipped.values())


def test_iu_films_carry_the_reports_indication(iu_set) -> None:
    """The manifest keeps the cleaned INDICATION; the DICOM carries it where the drafter reads it."""
    out, _ = iu_set
    reports = {r.study_id: r for r in load_iu_reports()}
    with_one = 0
    for record in read_manifest(out):
        expected = from_report(reports[record.provenance["iu_study_id"]].indication)
        assert (record.indication or "") == expected
        ds = pydicom.dcmread(record.files[0])
        assert from_dicom(ds) == clean(deidentify_text(expected[:64]))
        with_one += bool(expected)
    assert with_one >= 5  # nearly every IU report has one


def test_unrenderable_iu_reports_are_skipped_and_counted(atlas, atlas_dir: Path, tmp_path: Path) -> None:
    # Enough studies that a report with a fracture (about 2% of IU) or a disagreeing text turns up.
    summary = build_dataset(tmp_path, 150, seed=2, reports="iu", size=64, progress=False, data_dir=atlas_dir)
    assert summary.skipped and all(":" in reason for reason in summary.skipped)
    used = {r.provenance["iu_study_id"] for r in read_manifest(tmp_path)}
    reports = {r.study_id: r for r in load_iu_reports()}
    onto = load_ontology()
    assert all(iu_study(reports[s], onto, reports[s].split == "test").findings is not None for s in used)
    assert any(line.startswith("IU reports examined") for line in summary.lines())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "--n"),
        ({"workers": 0}, "--workers"),
        ({"reports": "mimic"}, "--reports"),
        ({"size": 16}, "--size"),
        ({"size": 9999}, "--size"),
        ({"min_positives": -1}, "--min-positives"),
        ({"train_renders": 0}, "--train-renders"),
    ],
)
def test_bad_requests_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"n": 1, "reports": "template", "size": 64, "workers": 1, **kwargs}
    with pytest.raises(DatasetError, match=message):
        build_dataset(tmp_path, args.pop("n"), progress=False, **args)


def _train_positives(records) -> Counter:
    return Counter(
        f.label
        for r in records
        if r.split == "train"
        for f in r.findings
        if f.presence == Presence.PRESENT and f.label != "no_finding"
    )


def test_rare_findings_get_extra_train_films(atlas, atlas_dir: Path, tmp_path: Path) -> None:
    plain = build_dataset(
        tmp_path / "plain", 40, seed=3, reports="iu", size=64, progress=False, data_dir=atlas_dir
    )
    summary = build_dataset(
        tmp_path / "os",
        40,
        seed=3,
        reports="iu",
        size=64,
        progress=False,
        data_dir=atlas_dir,
        min_positives=4,
        workers=2,
        mirror=True,
    )
    before, after = read_manifest(tmp_path / "plain"), read_manifest(tmp_path / "os")
    # The first 40 studies are the same films; the extra ones come after them.
    assert [r.files[0].read_bytes() for r in after[:40]] == [r.files[0].read_bytes() for r in before]
    extra = after[40:]
    assert extra and summary.written == len(after) == plain.written + len(extra)
    counts_before, counts_after = _train_positives(before), _train_positives(after)
    for label, count in counts_before.items():
        assert counts_after[label] >= 4, label  # every finding seen in train reaches the minimum
        if count >= 4:
            assert not any(r.provenance["oversampled_for"] == label for r in extra)
    reports = {r.study_id: r for r in load_iu_reports()}
    bases = {r.provenance["iu_study_id"]: r for r in before}
    for record in extra:
        label = record.provenance["oversampled_for"]
        assert record.split == "train" and counts_before[label] < 4
        assert label in {f.label for f in record.findings}
        base = bases[record.provenance["iu_study_id"]]
        # The same report and findings (or both mirrored), drawn as a new patient (its own UID and film).
        side = mirrored_text if record.provenance.get("mirrored") else str
        findings = mirrored_findings(base.findings) if record.provenance.get("mirrored") else base.findings
        assert (record.findings, record.findings_text) == (findings, side(base.findings_text))
        assert record.findings_text == side(reports[record.provenance["iu_study_id"]].findings)
        assert record.study_instance_uid != base.study_instance_uid
        assert record.files[0].read_bytes() != base.files[0].read_bytes()
    assert sorted(summary.oversampled.elements()) == sorted(r.provenance["oversampled_for"] for r in extra)
    assert any(line.startswith("extra train films for rare findings:") for line in summary.lines())
    # Validation and test keep their natural prevalence: no extra film lands there.
    held_out = [r.study_instance_uid for r in after if r.split != "train"]
    assert held_out == [r.study_instance_uid for r in before if r.split != "train"]


def test_train_reports_are_rendered_again_and_held_out_splits_are_not(
    atlas, atlas_dir: Path, tmp_path: Path
) -> None:
    build_dataset(tmp_path / "one", 30, seed=4, reports="iu", size=64, progress=False, data_dir=atlas_dir)
    summary = build_dataset(
        tmp_path / "three", 30, seed=4, reports="iu", size=64, progress=False, data_dir=atlas_dir,
        train_renders=3,
    )
    before, after = read_manifest(tmp_path / "one"), read_manifest(tmp_path / "three")
    assert [r.files[0].read_bytes() for r in after[:30]] == [r.files[0].read_bytes() for r in before[:30]]
    train = [r for r in before if r.split == "train"]
    again = [r for r in after if re.search(r"-tr[12]$", r.study_id)]
    assert len(again) == 2 * len(train) == summary.rerendered
    base = {r.study_id: r for r in train}
    for record in again:
        first = base[record.study_id.rsplit("-tr", 1)[0]]
        assert record.split == "train" and record.findings_text == first.findings_text
        assert record.findings == first.findings
        assert record.files[0].read_bytes() != first.files[0].read_bytes()  # a new film of the same report
    # validation and test (and the cross-patient films of the test reports) are one film per report
    held_out = lambda rs: sorted(r.study_id for r in rs if r.split != "train")  # noqa: E731
    assert held_out(after) == held_out(before)
    assert any(line.startswith("extra train films, each train report") for line in summary.lines())


def test_existing_dataset_needs_overwrite(template_set: Path) -> None:
    with pytest.raises(DatasetError, match="--overwrite"):
        build_dataset(template_set, 1, reports="template", size=SIZE, progress=False)


def test_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(DatasetError, match="not a directory"):
        build_dataset(tmp_path / "f", 1, reports="template", size=SIZE, progress=False)


def test_laterals_make_two_view_studies(atlas, atlas_dir: Path, tmp_path: Path) -> None:
    """--laterals: instance 2 of the same study is a left lateral (LL, SCT 399173006) of the same findings,
    on the frontal's detector; the manifest says which file is which and training pairs them."""
    from medvlm.gate.policy import assess_image
    from medvlm.training.manifest import read_records

    build_dataset(tmp_path, 4, seed=3, reports="iu", size=SIZE, progress=False, data_dir=atlas_dir,
                  laterals=True)
    records = read_manifest(tmp_path)
    for record in records:
        assert record.views == ["frontal", "lateral"] and len(record.files) == 2
        frontal, lateral = (pydicom.dcmread(f) for f in record.files)
        assert frontal.StudyInstanceUID == lateral.StudyInstanceUID == record.study_instance_uid
        assert frontal.SOPInstanceUID != lateral.SOPInstanceUID
        assert (frontal.InstanceNumber, lateral.InstanceNumber) == (1, 2)
        assert lateral.ViewPosition == "LL" and lateral.ViewCodeSequence[0].CodeValue == "399173006"
        assert (lateral.Modality, lateral.PhotometricInterpretation) == (frontal.Modality,
                                                                         frontal.PhotometricInterpretation)
        assert record.provenance["render_lateral"]["acquisition"]["projection"] == "LL"
        assert [assess_image(f).kind for f in record.files] == ["frontal", "lateral"]
    paired = read_records(tmp_path)
    assert all(r.lateral == record.files[1] for r, record in zip(paired, records, strict=True))


def test_vendor_looks_vary_the_processing_and_a_lateral_shares_its_frontal_look(
        atlas, atlas_dir: Path, tmp_path: Path) -> None:
    build_dataset(tmp_path / "plain", 6, seed=3, reports="iu", size=SIZE, progress=False, data_dir=atlas_dir)
    build_dataset(tmp_path / "looks", 6, seed=3, reports="iu", size=SIZE, progress=False, data_dir=atlas_dir,
                  laterals=True, vendor_looks=True)
    plain = {r.provenance["render"]["acquisition"]["processing"] for r in read_manifest(tmp_path / "plain")}
    assert plain == {"unsharp"}
    records = read_manifest(tmp_path / "looks")
    looks = [r.provenance["render"]["acquisition"]["processing"] for r in records]
    assert set(looks) == {"unsharp", "compress"}  # seed 3: both among six films
    for record, look in zip(records, looks, strict=True):
        assert record.provenance["render_lateral"]["acquisition"]["processing"] == look


def test_each_study_carries_its_frontal_films_organ_masks(template_set: Path) -> None:
    for record in read_manifest(template_set):
        masks = read_masks(masks_path(record.provenance, template_set))
        assert masks is not None and masks.shape == (len(ORGANS), SIZE, SIZE) and masks.dtype == bool
        lungs, heart = masks[ORGANS.index("lungs")], masks[ORGANS.index("heart")]
        assert 0.15 < lungs.mean() < 0.8 and 0 < heart.sum() < lungs.sum()
    assert masks_path({}, template_set) is None and read_masks(None) is None  # real films, older builds
    first = masks_path(read_manifest(template_set)[0].provenance, template_set)
    everything = read_masks(first, CHANNELS)
    assert everything is not None and everything.shape[0] == len(CHANNELS)


def test_unreadable_masks_are_named(template_set: Path, tmp_path: Path) -> None:
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match=r"broken\.npz: unreadable masks"):
        read_masks(tmp_path / "broken.npz")
