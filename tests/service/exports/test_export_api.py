"""Exports through the service, end to end: a real chest film uploaded, drafted, exported as a draft,
signed, exported again; every export checked for real and every export audited. SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pydicom
import pypdf
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from medvlm.compliance.audit import AuditEvent, verify
from medvlm.service.exports.fhir import validate
from tests.service.exports.report_fixtures import chest_film_path, dciodvfy
from tests.service.helpers import run_jobs

API = "/api/v1"
KINDS = ("pdf", "sr", "encapsulated-pdf", "fhir", "tid1500", "fhir-imagingstudy")


def _export_all(client: TestClient, headers: dict[str, str], report_id: str) -> dict[str, bytes]:
    out = {}
    for kind in KINDS:
        response = client.get(f"{API}/reports/{report_id}/export/{kind}", headers=headers)
        assert response.status_code == 200, (kind, response.text)
        out[kind] = response.content
    return out


def _check(exports: dict[str, bytes], film: Path, tmp_path: Path, *, signed: bool) -> None:
    source = pydicom.dcmread(film, stop_before_pixels=True)
    text = pypdf.PdfReader(io.BytesIO(exports["pdf"])).pages[0].extract_text()
    assert ("AI-assisted draft, reviewed and signed by radiologist1" in text) is signed
    assert ("DRAFT" in text) is not signed
    assert "CompressedSamples RG1" in text

    for kind in ("sr", "encapsulated-pdf", "tid1500"):
        path = tmp_path / f"{kind}-{signed}.dcm"
        path.write_bytes(exports[kind])
        errors, _ = dciodvfy(path)
        assert errors == [], kind
        ds = pydicom.dcmread(path)
        assert ds.StudyInstanceUID == source.StudyInstanceUID and ds.PatientID == source.PatientID
    sr = pydicom.dcmread(io.BytesIO(exports["sr"]))
    assert sr.VerificationFlag == ("VERIFIED" if signed else "UNVERIFIED")
    if signed:
        assert sr.VerifyingObserverSequence[0].VerifyingObserverName.family_name == "radiologist1"

    report = json.loads(exports["fhir"])
    validate(report)
    assert report["status"] == ("final" if signed else "preliminary")
    tid = pydicom.dcmread(io.BytesIO(exports["tid1500"]))
    assert tid.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert tid.VerificationFlag == ("VERIFIED" if signed else "UNVERIFIED")
    study = json.loads(exports["fhir-imagingstudy"])
    assert study["resourceType"] == "ImagingStudy" and study["numberOfInstances"] == 1
    assert study["series"][0]["instance"][0]["uid"] == source.SOPInstanceUID


def test_exports_of_a_real_study_before_and_after_signing(client: TestClient, callers, worker, app,
                                                          tmp_path: Path) -> None:
    film = chest_film_path()
    h = callers.radiologist
    files = [("files", ("film.dcm", film.read_bytes(), "application/dicom"))]
    upload = client.post(f"{API}/studies", files=files, headers=h)
    assert upload.status_code == 202, upload.text
    study_uid = upload.json()["study_instance_uids"][0]
    assert run_jobs(worker) == 1
    report_id = client.get(f"{API}/studies/{study_uid}/report", headers=h).json()["id"]

    _check(_export_all(client, h, report_id), film, tmp_path, signed=False)
    signed = client.post(f"{API}/reports/{report_id}/sign", json={"confirm": True}, headers=h)
    assert signed.status_code == 200, signed.text
    _check(_export_all(client, h, report_id), film, tmp_path, signed=True)
    # An integration (the PACS that sent nothing here) may not see this report at all.
    other = client.get(f"{API}/reports/{report_id}/export/sr", headers=callers.integration)
    assert other.status_code == 404

    with Session(app.state.engine) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.action == "report.export")).all()
        assert sorted(r.detail["kind"] for r in rows) == sorted(KINDS * 2)
        assert {r.actor for r in rows} == {rows[0].actor} and rows[0].resource_id == report_id
        result = verify(session)
    assert result.ok, result.summary()
