"""Signed corrections become a de-identified training dataset: through the real service, read back with the
dataset reader the training code uses. SQLite and PostgreSQL."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from fastapi.testclient import TestClient
from pydicom.data import get_testdata_file
from sqlmodel import Session, select

from medvlm.compliance.audit import AuditEvent, verify
from medvlm.dataset.manifest import read_manifest
from medvlm.service.exports.corrections import CorrectionsExportError, export_corrections, split_for
from tests.service.helpers import run_jobs

API = "/api/v1"
KEY = b"corrections-key-0123456789"
PHI_TEXT = ("Discussed with Dr. Jane Smith at 14:30 on 2024-03-12; patient CompressedSamples CT1 (MRN 1CT1, "
            "accession ACC-777001). Small left effusion.")


def _dicom(study_uid: str, *, accession: str, burned_in: bool = False, modality: str = "CT") -> bytes:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.Modality = modality
    ds.StudyInstanceUID, ds.AccessionNumber = study_uid, accession
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = study_uid + ".1"
    ds.SeriesInstanceUID = study_uid + ".2"
    if burned_in:
        ds.BurnedInAnnotation = "YES"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _signed_study(client: TestClient, worker, h: dict, study_uid: str, *, burned_in: bool = False,
                  sign: bool = True, impression: str = PHI_TEXT, modality: str = "CT") -> str:
    data = _dicom(study_uid, accession="ACC-777001", burned_in=burned_in, modality=modality)
    files = [("files", ("f.dcm", data, "x"))]
    assert client.post(f"{API}/studies", files=files, headers=h).status_code == 202
    assert run_jobs(worker) == 1
    rid = client.get(f"{API}/studies/{study_uid}/report", headers=h).json()["id"]
    edit = client.put(f"{API}/reports/{rid}", json={"base_version": 1, "impression": impression}, headers=h)
    assert edit.status_code == 200, edit.text
    if sign:
        assert client.post(f"{API}/reports/{rid}/sign", json={"confirm": True}, headers=h).status_code == 200
    return rid


def test_signed_corrections_export_deidentified(service: tuple[TestClient, object, dict],
                                                tmp_path: Path) -> None:
    client, worker, h = service
    engine = client.app.state.engine  # type: ignore[attr-defined]
    _signed_study(client, worker, h, "1.2.826.0.1.3680043.99.1")
    _signed_study(client, worker, h, "1.2.826.0.1.3680043.99.2", sign=False)  # drafts are not training data
    _signed_study(client, worker, h, "1.2.826.0.1.3680043.99.3", burned_in=True)

    result = export_corrections(tmp_path / "corrections", KEY, engine=engine, actor="user:privacy")
    assert result.exported == 1
    assert len(result.skipped) == 1 and "BurnedInAnnotation YES" in result.skipped[0][1]
    assert "1.2.826.0.1.3680043.99.3" not in result.summary()

    records = read_manifest(tmp_path / "corrections")  # the reader the training stages use
    assert len(records) == 1
    rec = records[0]
    assert rec.report_source == "correction" and rec.split == split_for(rec.study_instance_uid)
    assert rec.study_instance_uid.startswith("2.25.")
    for phi in ("Jane Smith", "14:30", "2024-03-12", "CompressedSamples", "1CT1", "ACC-777001", "rad1"):
        assert phi not in rec.impression, phi
        assert phi not in str(rec.provenance), phi
    assert "Small left effusion." in rec.impression
    assert rec.provenance["changed"] is True
    assert rec.provenance["original"]["impression"]  # the model's ORIGINAL draft travels with it

    (image,) = rec.files
    raw = image.read_bytes()
    assert b"CompressedSamples" not in raw and b"1.2.826.0.1.3680043.99.1" not in raw
    ds = pydicom.dcmread(image)
    assert ds.PatientIdentityRemoved == "YES" and ds.StudyInstanceUID == rec.study_instance_uid

    with Session(engine) as session:
        exports = session.exec(select(AuditEvent).where(AuditEvent.action == "corrections.export")).all()
        assert [(e.actor, e.resource_id) for e in exports] == [("user:privacy", result.manifest_sha256)]
        assert verify(session).ok

    again = export_corrections(tmp_path / "again", KEY, engine=engine)
    assert again.manifest_sha256 == result.manifest_sha256  # same key, same pseudonyms: re-exports line up


def test_export_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(CorrectionsExportError, match="is not empty"):
        export_corrections(tmp_path / "out", KEY)


def test_command_line_reports_bad_key_in_one_line(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_bytes(b"short")
    command = [sys.executable, "-m", "medvlm.service.exports.corrections", str(tmp_path / "out"),
               "--key-file", str(key)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[3])
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: the de-identification key must be at least 16 bytes, got 5"
    assert not (tmp_path / "out").exists()


def test_radiographs_without_a_burned_in_flag_need_the_sites_word(
        service: tuple[TestClient, object, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A DX/CR film without BurnedInAnnotation may carry the name in its pixels (issue 19): skipped unless
    the site sets MEDVLM_DEID_ACCEPT_UNKNOWN_BURNED_IN after reviewing its sources."""
    from medvlm.settings import get_settings

    client, worker, h = service
    engine = client.app.state.engine  # type: ignore[attr-defined]
    _signed_study(client, worker, h, "1.2.826.0.1.3680043.99.7", modality="DX")
    default = export_corrections(tmp_path / "default", KEY, engine=engine)
    assert default.exported == 0 and "modality DX" in default.skipped[0][1]
    monkeypatch.setenv("MEDVLM_DEID_ACCEPT_UNKNOWN_BURNED_IN", "true")
    get_settings.cache_clear()
    reviewed = export_corrections(tmp_path / "reviewed", KEY, engine=engine)
    assert reviewed.exported == 1 and reviewed.skipped == []
