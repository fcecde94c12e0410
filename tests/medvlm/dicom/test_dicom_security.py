"""Security findings of issue #19 at the ingest layer: identity conflicts, bad numbers and UIDs, the content
hash, the full disk, orphans. Each case fails without its fix."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pytest
from pydicom.uid import ImplicitVRLittleEndian
from sqlmodel import Session, select

from medvlm.db import get_engine
from medvlm.db.models import IngestEvent, Instance, Series
from medvlm.dicom import store as store_module
from medvlm.dicom.ingest import ingest_bytes
from medvlm.dicom.store import StudyStore, content_sha256
from medvlm.errors import StorageFullError
from medvlm.settings import Settings
from tests.medvlm.dicom.dicom_factory import make_image, to_bytes

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns on every bad value we send


def _rows(settings: Settings, table: type) -> list:
    with Session(get_engine(settings.resolved_database_url)) as session:
        return list(session.exec(select(table)).all())


def _orphans(settings: Settings) -> set[str]:
    """Files in the store (temporary ones included) that no row points at."""
    root = settings.store_dir
    files = {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()
    return files - {i.path for i in _rows(settings, Instance)}


def test_a_series_or_study_seen_under_another_patient_is_a_conflict_not_a_merge(settings: Settings) -> None:
    alice = make_image(seed=1, patient_id="ALICE", study_uid="1.2.3.1", series_uid="1.2.3.1.1")
    bob = make_image(seed=2, patient_id="BOB", study_uid="1.2.3.2", series_uid="1.2.3.1.1")  # Alice's series
    # Carol: Alice's study
    carol = make_image(seed=3, patient_id="CAROL", study_uid="1.2.3.1", series_uid="1.2.3.1.2")
    for batch in ([alice, bob, carol], [alice], [bob, carol]):  # one batch, and across batches
        settings.store_dir.mkdir(parents=True, exist_ok=True)
        reports = [ingest_bytes(f"{ds.PatientID}.dcm", to_bytes(ds), settings=settings) for ds in batch]
        assert sum(r.ingested + r.duplicates for r in reports) <= 1
    [instance] = _rows(settings, Instance)
    assert instance.sop_instance_uid == alice.SOPInstanceUID
    assert {s.study_instance_uid for s in _rows(settings, Series)} == {"1.2.3.1"}
    events = [e for e in _rows(settings, IngestEvent) if e.kind == "conflict"]
    assert {e.sop_instance_uid for e in events} == {bob.SOPInstanceUID, carol.SOPInstanceUID}
    assert any("series 1.2.3.1.1 belongs to study 1.2.3.1" in e.detail for e in events)
    assert any("study 1.2.3.1 belongs to patient ALICE" in e.detail for e in events)
    assert not _orphans(settings)


def test_conflict_inside_one_zip_names_the_reason(settings: Settings) -> None:
    import zipfile

    alice = make_image(seed=1, patient_id="ALICE", study_uid="1.9.1")
    bob = make_image(seed=2, patient_id="BOB", study_uid="1.9.1")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.dcm", to_bytes(alice))
        archive.writestr("b.dcm", to_bytes(bob))
    report = ingest_bytes("two.zip", buffer.getvalue(), settings=settings)
    assert (report.ingested, report.conflicts) == (1, 1)
    assert "belongs to patient ALICE" in report.conflict_reasons[0].reason
    assert not _orphans(settings)


@pytest.mark.parametrize("keyword,value", [("RescaleSlope", "NaN"), ("RescaleSlope", "inf"),
                                           ("RescaleIntercept", "-Infinity")])
def test_non_finite_rescale_is_invalid_input_not_a_write_race(settings: Settings, keyword: str,
                                                               value: str) -> None:
    ds = make_image(seed=4)
    ds.add_new({"RescaleSlope": 0x00281053, "RescaleIntercept": 0x00281052}[keyword], "DS", value)
    report = ingest_bytes("nan.dcm", to_bytes(ds), settings=settings)
    [rejection] = report.rejected
    assert keyword in rejection.reason and "finite" in rejection.reason
    assert not rejection.transient and "INSERT" not in rejection.reason and "busy" not in rejection.reason
    assert not _rows(settings, Instance) and not _orphans(settings)


def test_non_finite_window_is_dropped(settings: Settings) -> None:
    ds = make_image(seed=5)
    ds.add_new(0x00281050, "DS", "NaN")
    ds.add_new(0x00281051, "DS", "400")
    assert ingest_bytes("w.dcm", to_bytes(ds), settings=settings).ingested == 1
    [instance] = _rows(settings, Instance)
    assert instance.window_center is None and instance.window_width == 400


@pytest.mark.parametrize("keyword,bad", [
    ("StudyInstanceUID", "../../etc/passwd"), ("SeriesInstanceUID", "1.2.3'; --"),
    ("SOPInstanceUID", "1.2.\x013"), ("StudyInstanceUID", "1.2.\u00e9"), ("SeriesInstanceUID", "1..2"),
    ("SOPInstanceUID", "1.2 3")])
def test_malformed_uids_are_refused_at_intake(settings: Settings, keyword: str, bad: str) -> None:
    ds = make_image(seed=6)
    ds.add_new({"StudyInstanceUID": 0x0020000D, "SeriesInstanceUID": 0x0020000E,
                "SOPInstanceUID": 0x00080018}[keyword], "UI", bad)
    report = ingest_bytes("uid.dcm", to_bytes(ds), settings=settings)
    assert report.ingested == 0 and len(report.rejected) == 1
    assert keyword in report.rejected[0].reason
    assert not _rows(settings, Instance)


def test_palette_color_without_its_lookup_table_is_refused(settings: Settings) -> None:
    ds = make_image(seed=7, photometric="PALETTE COLOR")
    report = ingest_bytes("palette.dcm", to_bytes(ds), settings=settings)
    assert report.ingested == 0 and "lookup table" in report.rejected[0].reason


def test_the_content_hash_ignores_the_file_meta_header(settings: Settings) -> None:
    """An HTTP upload (file meta of the sender) and a C-STORE (file meta of the listener) of one instance."""
    ds = make_image(seed=8)
    first = to_bytes(ds)
    ds.file_meta.ImplementationVersionName = "OTHER_SENDER"
    ds.file_meta.SourceApplicationEntityTitle = "MODALITY1"
    second = to_bytes(ds)
    assert first != second and content_sha256(first) == content_sha256(second)
    assert ingest_bytes("http.dcm", first, settings=settings).ingested == 1
    again = ingest_bytes("dicom://MODALITY1/x", second, settings=settings)
    assert (again.duplicates, again.conflicts) == (1, 0)
    # and the other order, on a fresh instance
    ds2 = make_image(seed=9)
    ds2.file_meta.SourceApplicationEntityTitle = "MODALITY1"
    assert ingest_bytes("cstore", to_bytes(ds2), settings=settings).ingested == 1
    del ds2.file_meta.SourceApplicationEntityTitle
    assert ingest_bytes("http", to_bytes(ds2), settings=settings).duplicates == 1


def test_the_content_hash_of_an_implicit_file_without_preamble(tmp_path: Path) -> None:
    ds = make_image(seed=10)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    data = to_bytes(ds)
    assert content_sha256(data) == content_sha256(b"\0" * 128 + b"DICM" + data[132:])


def test_a_full_disk_is_storage_full_and_leaves_nothing(settings: Settings,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    real_fdopen = os.fdopen

    def full(fd: int, *args, **kwargs):  # type: ignore[no-untyped-def]
        handle = real_fdopen(fd, *args, **kwargs)

        def write(_data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        handle.write = write  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr(store_module.os, "fdopen", full)
    with pytest.raises(StorageFullError, match="disk is full"):
        ingest_bytes("a.dcm", to_bytes(make_image(seed=11)), settings=settings)
    assert not _rows(settings, Instance) and not _orphans(settings)


def test_a_failed_commit_removes_the_files_it_wrote(settings: Settings,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from medvlm.dicom import index

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the process dies between the file and its rows")

    monkeypatch.setattr(index, "add_instances", broken)
    with pytest.raises(RuntimeError):
        ingest_bytes("a.dcm", to_bytes(make_image(seed=12)), settings=settings)
    assert not _orphans(settings)
    assert StudyStore.from_settings(settings).files() == []


def test_rows_hashed_the_old_way_still_see_duplicates(settings: Settings) -> None:
    """Rows written before the address left out the file meta carry the whole file's SHA-256."""
    from sqlalchemy import update

    from medvlm.dicom.store import sha256_hex

    data = to_bytes(make_image(seed=13))
    assert ingest_bytes("a.dcm", data, settings=settings).ingested == 1
    with Session(get_engine(settings.resolved_database_url)) as session:
        session.execute(update(Instance).values(sha256=sha256_hex(data)))
        session.commit()
    again = ingest_bytes("a.dcm", data, settings=settings)
    assert (again.duplicates, again.conflicts) == (1, 0)
