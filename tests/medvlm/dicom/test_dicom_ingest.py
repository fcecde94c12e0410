"""Ingestion into the store and the index: grouping, duplicates, conflicts, DICOMDIR, folders, uploads."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from pydicom.fileset import FileSet
from sqlmodel import Session, select

from medvlm.db import get_engine
from medvlm.db.models import IngestEvent, Instance, Patient, Series, Study
from medvlm.dicom.ingest import ingest_bytes, ingest_paths
from medvlm.dicom.store import StudyStore
from medvlm.dicom.store import content_sha256 as sha256_hex
from medvlm.settings import Settings
from tests.medvlm.dicom.dicom_factory import make_image, to_bytes, write


def _rows(settings: Settings, table: type) -> list:
    with Session(get_engine(settings.resolved_database_url)) as session:
        return list(session.exec(select(table)).all())


def _study(folder: Path, n_series: int = 2, per_series: int = 2, seed: int = 0) -> tuple[str, list[Path]]:
    first = make_image(seed=seed)
    study_uid, paths = first.StudyInstanceUID, []
    for s in range(n_series):
        series_uid = None
        for i in range(per_series):
            ds = make_image(study_uid=study_uid, series_uid=series_uid, seed=seed + 10 * s + i,
                            SeriesNumber=s + 1, InstanceNumber=i + 1)
            series_uid = ds.SeriesInstanceUID
            paths.append(write(ds, folder / f"s{s}" / f"i{i}.dcm"))
    return study_uid, paths


def test_folder_is_grouped_into_patient_study_series_instance(settings: Settings, workdir: Path) -> None:
    study_uid, paths = _study(workdir)
    report = ingest_paths([workdir], settings=settings)
    assert (report.ingested, report.duplicates, report.conflicts, report.rejected) == (4, 0, 0, [])
    assert report.study_instance_uids == [study_uid]
    assert len(_rows(settings, Patient)) == 1
    assert [s.study_instance_uid for s in _rows(settings, Study)] == [study_uid]
    assert len(_rows(settings, Series)) == 2
    instances = _rows(settings, Instance)
    assert sorted(i.sop_instance_uid for i in instances) == sorted(report.sop_instance_uids)
    store = StudyStore.from_settings(settings)
    for instance in instances:  # every row points at a whole file named by its hash
        assert Path(instance.path) == store.path(instance.sha256)
        assert store.verify(instance.sha256)
        shape = (instance.rows, instance.columns, instance.frames, instance.photometric)
        assert shape == (32, 24, 1, "MONOCHROME2")
    assert {e.kind for e in _rows(settings, IngestEvent)} == {"stored"}
    assert sorted(sha256_hex(p.read_bytes()) for p in paths) == sorted(i.sha256 for i in instances)


def test_reingesting_is_a_no_op(settings: Settings, workdir: Path, snap) -> None:
    _study(workdir)
    ingest_paths([workdir], settings=settings)
    before = snap(settings)
    again = ingest_paths([workdir], settings=settings)
    assert (again.ingested, again.duplicates, again.conflicts) == (0, 4, 0)
    assert len(again.sop_instance_uids) == 4
    assert snap(settings) == before


def test_same_sop_uid_with_other_bytes_is_a_conflict_and_does_not_overwrite(settings: Settings,
                                                                           workdir: Path) -> None:
    original = make_image(seed=1)
    first = write(original, workdir / "a.dcm")
    altered = make_image(seed=2, sop_uid=original.SOPInstanceUID, study_uid=original.StudyInstanceUID,
                         series_uid=original.SeriesInstanceUID)
    second = write(altered, workdir / "b.dcm")
    assert ingest_paths([first], settings=settings).ingested == 1
    report = ingest_paths([second], settings=settings)
    assert (report.ingested, report.duplicates, report.conflicts) == (0, 0, 1)
    [instance] = _rows(settings, Instance)
    assert instance.sha256 == sha256_hex(first.read_bytes())
    assert Path(instance.path).read_bytes() == first.read_bytes()
    assert not StudyStore.from_settings(settings).contains(sha256_hex(second.read_bytes()))
    conflict = [e for e in _rows(settings, IngestEvent) if e.kind == "conflict"]
    assert len(conflict) == 1 and conflict[0].sha256 == sha256_hex(second.read_bytes())
    assert instance.sha256 in conflict[0].detail and conflict[0].source == str(second)


def test_conflict_inside_one_batch(settings: Settings) -> None:
    original = make_image(seed=1)
    altered = make_image(seed=2, sop_uid=original.SOPInstanceUID)
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("a.dcm", to_bytes(original))
        archive.writestr("b.dcm", to_bytes(altered))
        archive.writestr("c.dcm", to_bytes(original))
    report = ingest_bytes("pair.zip", data.getvalue(), settings=settings)
    assert (report.ingested, report.duplicates, report.conflicts) == (1, 1, 1)
    assert len(_rows(settings, Instance)) == 1


def test_dicomdir_references_are_ingested_once(settings: Settings, workdir: Path) -> None:
    fileset = FileSet()
    uids = []
    for seed in range(3):
        ds = make_image(seed=seed, PatientName="Dir^Test")
        uids.append(ds.SOPInstanceUID)
        fileset.add(ds)
    media = workdir / "media"
    fileset.write(media)
    report = ingest_paths([media / "DICOMDIR"], settings=settings)
    assert report.ingested == 3 and report.rejected == []
    assert sorted(report.sop_instance_uids) == sorted(uids)
    # The folder again, DICOMDIR included: each file is looked at once and is now a duplicate.
    again = ingest_paths([media], settings=settings)
    assert (again.ingested, again.duplicates, again.rejected) == (0, 3, [])


@pytest.mark.filterwarnings("ignore:Invalid value for VR CS:UserWarning")
def test_dicomdir_reference_outside_its_folder_is_refused(settings: Settings, workdir: Path) -> None:
    fileset = FileSet()
    fileset.add(make_image(seed=1))
    media = workdir / "media"
    fileset.write(media)
    from pydicom import dcmread

    dicomdir = dcmread(media / "DICOMDIR")
    for record in dicomdir.DirectoryRecordSequence:
        if "ReferencedFileID" in record:
            record.ReferencedFileID = ["..", "secret"]
    dicomdir.save_as(media / "DICOMDIR")
    report = ingest_paths([media / "DICOMDIR"], settings=settings)
    assert report.ingested == 0
    assert [r.reason for r in report.rejected] == ["DICOMDIR reference escapes its folder; not followed"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlink_inside_a_folder_is_not_followed(settings: Settings, workdir: Path, tmp_path: Path) -> None:
    outside = write(make_image(seed=5), tmp_path / "outside" / "x.dcm")
    (workdir / "link.dcm").symlink_to(outside)
    write(make_image(seed=6), workdir / "real.dcm")
    report = ingest_paths([workdir], settings=settings)
    assert report.ingested == 1
    assert [(Path(r.path).name, r.reason) for r in report.rejected] == [
        ("link.dcm", "symbolic link inside a folder: not followed")]


def test_upload_of_a_single_file_and_a_zip(settings: Settings) -> None:
    one = make_image(seed=1)
    single = ingest_bytes("one.dcm", to_bytes(one), settings=settings)
    assert single.ingested == 1 and single.study_instance_uids == [one.StudyInstanceUID]
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x/1.dcm", to_bytes(make_image(seed=2)))
        archive.writestr("x/readme.txt", "not dicom")
        archive.writestr("x/", "")
    report = ingest_bytes("batch.zip", data.getvalue(), settings=settings)
    assert report.ingested == 1
    assert [(r.path, r.reason.split(":")[0]) for r in report.rejected] == [("batch.zip!x/readme.txt",
                                                                           "not a DICOM file")]
    expected = [{"path": "batch.zip!x/readme.txt", "reason": report.rejected[0].reason}]
    assert report.to_json()["rejected"] == expected


def test_missing_path_is_a_rejection_not_a_crash(settings: Settings, tmp_path: Path) -> None:
    report = ingest_paths([tmp_path / "nope"], settings=settings)
    assert report.rejected[0].reason == "no such file or folder"
