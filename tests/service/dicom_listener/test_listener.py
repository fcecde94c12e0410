"""The listener over real associations on 127.0.0.1: C-ECHO, C-STORE of real files into the store and the
index, draft jobs queued when the association ends, and Failure statuses (never Success) for bad input
with nothing written."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, _config
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from sqlmodel import Session, select

from medvlm.db import get_engine
from medvlm.db.models import Instance
from medvlm.pacs import scu
from medvlm.pacs import status as st
from medvlm.pacs.errors import ListenerError, PacsError
from medvlm.service.db.tables import DraftJob, StudyState
from medvlm.service.dicom_listener.listener import ListenerHandle, start_dicom_listener
from medvlm.settings import Settings

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"


def store_files(settings: Settings) -> list[Path]:
    root = settings.store_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def instance_uids(settings: Settings) -> list[str]:
    with Session(get_engine(settings.resolved_database_url)) as session:
        return sorted(session.exec(select(Instance.sop_instance_uid)).all())


def jobs(settings: Settings) -> list[DraftJob]:
    with Session(get_engine(settings.resolved_database_url)) as session:
        return list(session.exec(select(DraftJob)).all())


def raw_store(port: int, path: Path, called_ae: str = "MEDVLM") -> Dataset:
    """C-STORE a file as its bytes, announced with its file meta (SOP class, transfer syntax): the way to
    send a data set that does not match what the request says."""
    meta = pydicom.dcmread(path, stop_before_pixels=True).file_meta
    ae = AE(ae_title="TESTSCU")
    ae.add_requested_context(str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))
    assoc = ae.associate("127.0.0.1", port, ae_title=called_ae)
    assert assoc.is_established
    chunked, _config.STORE_SEND_CHUNKED_DATASET = _config.STORE_SEND_CHUNKED_DATASET, True  # bytes as is
    try:
        return assoc.send_c_store(path)
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = chunked
        assoc.release()


def test_echo(listener: ListenerHandle) -> None:
    scu.echo("127.0.0.1", listener.port, called_ae="MEDVLM")
    ae = AE(ae_title="OTHERSCU")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", listener.port, ae_title="MEDVLM")
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    assoc.release()
    ended = listener.wait_for_associations(2)
    assert {a.calling_ae for a in ended} == {"MEDVLM", "OTHERSCU"}
    assert all(a.stored == 0 and a.jobs == [] for a in ended)


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm",
                                  "SC_rgb_jpeg_dcmtk.dcm"])
def test_store_real_file_is_ingested(listener: ListenerHandle, sqlite_settings: Settings,
                                     testdata: Callable[[str], Path], name: str) -> None:
    path = testdata(name)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    results = scu.send("127.0.0.1", listener.port, [path], called_ae="MEDVLM", calling_ae="MODALITY1")
    assert [(r.sop_instance_uid, r.status) for r in results] == [(str(ds.SOPInstanceUID), 0x0000)]
    assert instance_uids(sqlite_settings) == [str(ds.SOPInstanceUID)]
    [stored] = store_files(sqlite_settings)
    # the stored file is the received data set (meta may be re-encoded by the network; the data set not)
    stored_ds = pydicom.dcmread(stored)
    assert stored_ds.SOPInstanceUID == ds.SOPInstanceUID
    assert stored_ds.PixelData == pydicom.dcmread(path).PixelData
    [summary] = listener.wait_for_associations(1)
    assert (summary.calling_ae, summary.stored, summary.failed) == ("MODALITY1", 1, 0)
    assert summary.studies == [str(ds.StudyInstanceUID)] and len(summary.jobs) == 1


def test_store_queues_one_draft_per_study_and_resend_adds_none(settings: Settings,
                                                               testdata: Callable[[str], Path]) -> None:
    """On SQLite and PostgreSQL: jobs are queued when the association ends, in the service's queue."""
    with start_dicom_listener(settings, port=0) as handle:
        files = [testdata("CT_small.dcm"), testdata("MR_small.dcm")]
        scu.send("127.0.0.1", handle.port, files, called_ae="MEDVLM")
        handle.wait_for_associations(1)
        first = jobs(settings)
        assert sorted(j.study_instance_uid for j in first) == sorted(
            str(pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID) for f in files)
        assert all(j.status == "queued" for j in first)
        with Session(get_engine(settings.resolved_database_url)) as session:
            states = session.exec(select(StudyState.status)).all()
        assert states == ["drafting", "drafting"]
        results = scu.send("127.0.0.1", handle.port, files, called_ae="MEDVLM")  # a re-send: duplicates
        assert [r.status for r in results] == [0, 0]
        second = handle.wait_for_associations(2)[1]
        assert second.stored == 2 and second.new_studies == set()
        assert sorted(j.id for j in jobs(settings)) == sorted(j.id for j in first)
        assert len(store_files(settings)) == 2


def _with(path: Path, tmp: Path, name: str, edit: Callable[[pydicom.Dataset], None]) -> Path:
    ds = pydicom.dcmread(path)
    edit(ds)
    out = tmp / name
    ds.save_as(out, enforce_file_format=False)  # keep the (possibly inconsistent) file meta as edited
    return out


def _element(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
    value += b"\0" * (len(value) % 2)
    tag = group.to_bytes(2, "little") + elem.to_bytes(2, "little")
    return tag + vr + len(value).to_bytes(2, "little") + value


def _garbage(tmp: Path, _path: Path) -> Path:
    """A consistent SOP class and instance (so the request checks pass), then bytes that are no data set."""
    uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = tmp / "garbage.dcm"
    with out.open("wb") as fh:
        fh.write(b"\0" * 128 + b"DICM")
        write_file_meta_info(fh, meta)  # type: ignore[arg-type]
        fh.write(_element(0x0008, 0x0016, b"UI", CT_IMAGE.encode()))
        fh.write(_element(0x0008, 0x0018, b"UI", uid.encode()))
        fh.write(b"\x10\x00\x10\x00PN\xff\xff" + hashlib.sha256(b"x").digest())  # length past the end
    return out


def _class_mismatch(tmp: Path, path: Path) -> Path:
    def edit(ds: pydicom.Dataset) -> None:
        ds.file_meta.MediaStorageSOPClassUID = MR_IMAGE  # announced as MR, the data set says CT
    return _with(path, tmp, "mismatch.dcm", edit)


def _instance_mismatch(tmp: Path, path: Path) -> Path:
    def edit(ds: pydicom.Dataset) -> None:
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    return _with(path, tmp, "uid.dcm", edit)


def _no_study_uid(tmp: Path, path: Path) -> Path:
    return _with(path, tmp, "nostudy.dcm", lambda ds: delattr(ds, "StudyInstanceUID"))


def _truncated_pixels(tmp: Path, path: Path) -> Path:
    def edit(ds: pydicom.Dataset) -> None:
        ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    return _with(path, tmp, "short.dcm", edit)


BAD_INPUT = [  # (case, build the file from CT_small, settings overrides, expected status)
    ("garbage data set", _garbage, {}, st.CANNOT_UNDERSTAND),
    ("SOP class differs from the context", _class_mismatch, {}, st.DOES_NOT_MATCH_SOP_CLASS),
    ("SOP instance differs from the request", _instance_mismatch, {}, st.DOES_NOT_MATCH_SOP_CLASS),
    ("missing Study Instance UID", _no_study_uid, {}, st.CANNOT_UNDERSTAND),
    ("pixel data shorter than declared", _truncated_pixels, {}, st.CANNOT_UNDERSTAND),
    ("over the file size limit", lambda tmp, p: p, {"max_file_bytes": 10_000}, st.OUT_OF_RESOURCES),
    ("over the pixel limit", lambda tmp, p: p, {"max_pixels": 1000}, st.OUT_OF_RESOURCES),
]


@pytest.mark.parametrize(("case", "build", "limits", "expected"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_gets_failure_and_writes_nothing(
    sqlite_settings: Settings, tmp_path: Path, testdata: Callable[[str], Path], case: str,
    build: Callable[[Path, Path], Path], limits: dict[str, int], expected: int,
) -> None:
    settings = sqlite_settings.model_copy(update=limits)
    path = build(tmp_path, testdata("CT_small.dcm"))
    with start_dicom_listener(settings, port=0) as handle:
        answer = raw_store(handle.port, path)
        [summary] = handle.wait_for_associations(1)
    assert answer.Status == expected, answer
    assert answer.ErrorComment  # names the problem for the sender's log
    assert (summary.stored, summary.failed, summary.jobs) == (0, 1, [])
    assert store_files(settings) == [] and instance_uids(settings) == [] and jobs(settings) == []


def test_rejected_file_is_failure_through_scu(listener: ListenerHandle, sqlite_settings: Settings,
                                              testdata: Callable[[str], Path]) -> None:
    """A non-image (RT Plan) and a good image in one association: one stored, one refused with reason."""
    good, plan = testdata("CT_small.dcm"), testdata("rtplan.dcm")
    with pytest.raises(scu.PacsSendError, match=r"1 of 2 .*not an image") as failed:
        scu.send("127.0.0.1", listener.port, [good, plan], called_ae="MEDVLM")
    assert [r.status for r in failed.value.results] == [0x0000, st.CANNOT_UNDERSTAND]
    assert len(store_files(sqlite_settings)) == 1 and len(instance_uids(sqlite_settings)) == 1


def test_conflicting_content_is_refused(listener: ListenerHandle, sqlite_settings: Settings, tmp_path: Path,
                                        testdata: Callable[[str], Path]) -> None:
    original = testdata("CT_small.dcm")
    changed = _with(original, tmp_path, "changed.dcm", lambda ds: setattr(ds, "PatientName", "Other^Person"))
    scu.send("127.0.0.1", listener.port, [original], called_ae="MEDVLM")
    with pytest.raises(scu.PacsSendError, match="other content"):
        scu.send("127.0.0.1", listener.port, [changed], called_ae="MEDVLM")
    [kept] = store_files(sqlite_settings)
    assert str(pydicom.dcmread(kept).PatientName) != "Other^Person"


def test_database_unavailable_is_out_of_resources(sqlite_settings: Settings, tmp_path: Path,
                                                  testdata: Callable[[str], Path]) -> None:
    broken = sqlite_settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/missing/dir/x.db"})
    with start_dicom_listener(broken, port=0, queue_drafts=False) as handle:
        answer = raw_store(handle.port, testdata("CT_small.dcm"))
    assert answer.Status == st.OUT_OF_RESOURCES


@pytest.mark.parametrize(("called", "calling", "message"), [
    ("WRONGAE", "MEDVLM", "called AE title not recognized"),
    ("MEDVLM", "STRANGER", "calling AE title not recognized"),
])
def test_association_rejected_for_unknown_ae_titles(sqlite_settings: Settings, called: str, calling: str,
                                                    message: str) -> None:
    with (start_dicom_listener(sqlite_settings, port=0, allowed_calling_aes=["MEDVLM"]) as handle,
          pytest.raises(PacsError, match=message)):
        scu.echo("127.0.0.1", handle.port, called_ae=called, calling_ae=calling)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"ae_title": ""}, "invalid AE title"),
    ({"ae_title": "A" * 17}, "invalid AE title"),
    ({"ae_title": "BAD\\AE"}, "invalid AE title"),
    ({"port": 70000}, "invalid port"),
    ({"host": "203.0.113.7"}, "cannot listen on 203.0.113.7"),
])
def test_listener_refuses_bad_parameters(sqlite_settings: Settings, kwargs: dict[str, object],
                                         message: str) -> None:
    with pytest.raises(ListenerError, match=message):
        start_dicom_listener(sqlite_settings, **{"port": 0, **kwargs})  # type: ignore[arg-type]


def test_port_in_use_is_a_clear_error(listener: ListenerHandle, sqlite_settings: Settings) -> None:
    with pytest.raises(ListenerError, match=f"cannot listen on 127.0.0.1:{listener.port}"):
        start_dicom_listener(sqlite_settings, port=listener.port)
