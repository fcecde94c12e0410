"""``medvlm data import`` end to end on a made-up archive: pairing, gate, de-identification, labels,
patient splits, the manifest ``medvlm train`` reads, resume after a crash, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from typer.testing import CliRunner

from medvlm.cli.main import app
from medvlm.dataset.errors import DatasetError
from medvlm.dataset.importer import import_dataset
from medvlm.dataset.importer import run as run_module
from medvlm.dataset.manifest import read_manifest
from medvlm.training.manifest import read_records
from tests.medvlm.dataset.importer.archive import KEY, PHI, fake_study, output_text, write_archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    write_archive(root)
    return root


@pytest.fixture(scope="module")
def imported(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("imported") / "data"
    summary = import_dataset(out, [archive / "dicom"], [archive / "reports"], KEY, progress=False)
    return out, summary


def test_pairs_every_source_and_lists_the_rest(imported: tuple[Path, object]) -> None:
    out, summary = imported
    records = read_manifest(out)
    formats = sorted(r.provenance["report_format"] for r in records)
    assert formats == ["csv"] * 4 + ["hl7"] * 2 + ["jsonl"] + ["sr"] * 2
    rules = {r.provenance["paired_by"] for r in records}
    assert rules == {"accession", "study_uid", "patient_date"}
    provenance = json.loads((out / "provenance.json").read_text())
    reasons = sorted(r["reason"] for r in provenance["refused"])
    assert any("no report matched" in r for r in reasons)  # study 9
    assert any("modality CT" in r for r in reasons)
    assert any("no frontal chest radiograph" in r for r in reasons)  # the lateral-only study
    assert provenance["imported"] == 9 and provenance["inputs"]["dicom_files"] == 15
    assert any("not imported" in line for line in summary.lines())  # type: ignore[attr-defined]


def test_no_phi_anywhere_in_the_output(imported: tuple[Path, object]) -> None:
    out, _ = imported
    original_uids = tuple(fake_study(i).study_uid for i in range(12))
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        text = output_text(path)
        leaked = [s for s in PHI + original_uids if s.lower() in text.lower()]
        assert not leaked, f"{path.relative_to(out)} still holds {leaked}"
    ds = pydicom.dcmread(next(out.rglob("*.dcm")))
    assert ds.PatientIdentityRemoved == "YES" and ds.PatientID.startswith("ANON")


def test_labels_keep_uncertain_as_uncertain(imported: tuple[Path, object]) -> None:
    out, _ = imported
    by_text = {r.findings_text.split(". ", 2)[-1]: r for r in read_manifest(out)}
    first = by_text["Small left pleural effusion."]
    readings = {f.label: (str(f.presence), f.laterality and str(f.laterality)) for f in first.findings}
    assert readings["pleural_effusion"] == ("present", "left")
    assert readings["consolidation"][0] == "uncertain"
    normal = by_text["Heart size is normal. Lungs are clear."]
    assert [f.label for f in normal.findings] == ["no_finding"]


def test_split_by_patient_and_frontal_first(imported: tuple[Path, object]) -> None:
    out, _ = imported
    records = read_manifest(out)
    splits: dict[str, set[str]] = {}
    for r in records:
        splits.setdefault(r.provenance["patient"], set()).add(r.split)
    assert all(len(s) == 1 for s in splits.values())
    assert len(splits) == 5
    two_views = [r for r in records if len(r.files) == 2]
    assert len(two_views) == 1 and two_views[0].provenance["views"] == ["PA", "LATERAL"]
    assert pydicom.dcmread(two_views[0].files[0]).ViewPosition == "PA"
    card = json.loads((out / "data_card.json").read_text())
    assert card["studies"] == 9 and card["views"] == {"LATERAL": 1, "PA": 9} and card["years"] == {"2021": 9}
    assert card["findings"]["consolidation"]["uncertain"] >= 1


def test_training_reads_the_manifest(imported: tuple[Path, object]) -> None:
    out, _ = imported
    records = read_records(out)
    assert len(records) == 9 and {r.report_source for r in records} == {"import"}
    assert all(p.is_file() for r in records for p in r.files)


def test_crash_halfway_resumes_and_matches(archive: Path, imported: tuple[Path, object], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    reference, _ = imported
    out = tmp_path / "data"
    real = run_module._record
    calls = {"n": 0}

    def crash_on_fourth(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("power cut")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(run_module, "_record", crash_on_fourth)
    with pytest.raises(KeyboardInterrupt):
        import_dataset(out, [archive / "dicom"], [archive / "reports"], KEY, progress=False)
    assert not out.exists()  # nothing half-written where a reader would look
    monkeypatch.setattr(run_module, "_record", real)
    summary = import_dataset(out, [archive / "dicom"], [archive / "reports"], KEY, progress=False)
    assert 3 <= summary.resumed < 11  # whole studies (and refusals) done before the crash
    assert (out / "manifest.jsonl").read_bytes() == (reference / "manifest.jsonl").read_bytes()
    assert not (tmp_path / ".data.importing").exists()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("existing", "already holds a dataset"),
        ("short_key", "at least 16 bytes"),
        ("other_inputs", "unfinished import of other inputs"),
        ("missing_reports", "does not exist"),
    ],
)
def test_bad_requests_are_one_clear_error(case: str, expected: str, archive: Path,
                                          imported: tuple[Path, object], tmp_path: Path) -> None:
    out, key, reports = tmp_path / "data", KEY, [archive / "reports"]
    if case == "existing":
        out = imported[0]
    elif case == "short_key":
        key = b"short"
    elif case == "other_inputs":
        (tmp_path / ".data.importing").mkdir()
        (tmp_path / ".data.importing" / "import-state.json").write_text('{"fingerprint": "x"}')
    elif case == "missing_reports":
        reports = [archive / "nowhere"]
    with pytest.raises(Exception, match=expected):
        import_dataset(out, [archive / "dicom"], reports, key, progress=False)


def test_cli_imports_and_refuses_in_one_line(archive: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    args = ["data", "import", "--out", str(tmp_path / "data"), "--studies", str(archive / "dicom"),
            "--reports", str(archive / "reports"), "--key-file", str(key_file), "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "imported 9 studies" in result.output
    command = [sys.executable, "-m", "medvlm", *args]
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1
    assert again.stderr.startswith("error: ") and "already holds a dataset" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_unknown_burned_in_is_refused_unless_accepted(tmp_path: Path) -> None:
    from medvlm.compliance.deid import DeidOptions
    from medvlm.synth.hospital import csv_row, film, save
    from tests.medvlm.dataset.importer.archive import fake_study, pixels

    study = fake_study(0)
    save(film(study, pixels(0), burned_in=None), tmp_path / "in" / "a.dcm")
    (tmp_path / "r.jsonl").write_text(json.dumps(csv_row(study, "Cardiomegaly.", "Big heart.")) + "\n")
    refused = import_dataset(tmp_path / "a", [tmp_path / "in"], [tmp_path / "r.jsonl"], KEY, progress=False,
                             options=DeidOptions())
    assert refused.imported == 0 and "BurnedInAnnotation" in refused.refused[0][1]
    accepted = import_dataset(tmp_path / "b", [tmp_path / "in"], [tmp_path / "r.jsonl"], KEY, progress=False,
                              options=DeidOptions(accept_unknown_burned_in=True))
    assert accepted.imported == 1


def test_dataset_error_is_a_dataset_error() -> None:
    assert issubclass(run_module.DatasetError, DatasetError)


def test_a_zip_imports_like_the_folder(archive: Path, imported: tuple[Path, object], tmp_path: Path) -> None:
    import zipfile

    bundle = tmp_path / "studies.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        for path in sorted((archive / "dicom").rglob("*.dcm")):
            zf.write(path, path.relative_to(archive / "dicom"))
    summary = import_dataset(tmp_path / "data", [bundle], [archive / "reports"], KEY, progress=False)
    assert summary.imported == 9
    reference = imported[0]
    assert (tmp_path / "data" / "manifest.jsonl").read_bytes() == (reference / "manifest.jsonl").read_bytes()


def test_a_journaled_study_whose_files_are_gone_is_done_again(archive: Path, imported: tuple[Path, object],
                                                              tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "data"
    real = run_module._finish
    monkeypatch.setattr(run_module, "_finish", lambda *a, **k: (_ for _ in ()).throw(OSError("disk gone")))
    with pytest.raises(OSError):
        import_dataset(out, [archive / "dicom"], [archive / "reports"], KEY, progress=False)
    staging = tmp_path / ".data.importing"
    lost = next((staging / "dicom").iterdir())
    for path in lost.iterdir():
        path.unlink()  # what a power cut may leave: the journal line without its files
    monkeypatch.setattr(run_module, "_finish", real)
    summary = import_dataset(out, [archive / "dicom"], [archive / "reports"], KEY, progress=False)
    assert summary.resumed == 10  # 9 records + 2 refusals journaled, less the record whose files went
    assert all(p.is_file() for r in read_manifest(out) for p in r.files)
    assert (out / "manifest.jsonl").read_bytes() == (imported[0] / "manifest.jsonl").read_bytes()


def test_nothing_paired_is_an_error_not_an_empty_dataset(archive: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"no study could be paired .* nothing imported"):
        import_dataset(tmp_path / "data", [archive / "dicom" / "study9"], [], KEY, progress=False)
    assert not (tmp_path / "data").exists() and not (tmp_path / ".data.importing").exists()


def test_non_chest_files_are_refused_with_the_gates_reason(tmp_path: Path) -> None:
    """pydicom's own MR and CT test files sit beside a chest film: only the film is imported, and each
    refusal carries the intended-use gate's reason (the check the service runs before drafting)."""
    import shutil

    from pydicom.data import get_testdata_file

    from medvlm.synth.hospital import csv_row, film, save
    from tests.medvlm.dataset.importer.archive import pixels

    study = fake_study(0)
    save(film(study, pixels(0)), tmp_path / "in" / "chest.dcm")
    for name in ("MR_small.dcm", "CT_small.dcm"):
        shutil.copy(str(get_testdata_file(name)), tmp_path / "in" / name)
    (tmp_path / "r.jsonl").write_text(json.dumps(csv_row(study, "Cardiomegaly.", "Big heart.")) + "\n")
    summary = import_dataset(tmp_path / "out", [tmp_path / "in"], [tmp_path / "r.jsonl"], KEY, progress=False)
    assert summary.imported == 1
    reasons = [r["reason"] for r in json.loads((tmp_path / "out" / "provenance.json").read_text())["refused"]]
    for modality in ("MR", "CT"):
        assert any(f"modality {modality} (only CR/DX radiographs are drafted)" in r for r in reasons), reasons
    assert any("not imported" in line and "modality MR" in line for line in summary.lines())
