"""Export routes: each export of a draft and of the signed report, read back (the builders' own checks
live in tests/service/exports); operations routes: health, ready, Prometheus metrics."""

from __future__ import annotations

import io
import json

import pydicom
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlmodel import Session, select

from medvlm.compliance.audit import AuditEvent
from tests.service.helpers import dicom_bytes, run_jobs

API = "/api/v1"


def _export(client: TestClient, rid: str, kind: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    response = client.get(f"{API}/reports/{rid}/export/{kind}", headers=headers)
    assert response.status_code == 200, (kind, response.text[:500])
    return response


def test_exports_of_draft_and_signed_report(client: TestClient, callers, worker, app) -> None:  # type: ignore[no-untyped-def]
    h = callers.radiologist
    client.post(
        f"{API}/studies",
        files=[("files", ("a.dcm", dicom_bytes(study_uid="1.2.95", accession="ACC95")))],
        headers=h,
    )
    run_jobs(worker)
    rid = client.get(f"{API}/studies/1.2.95/report", headers=h).json()["id"]

    draft_sr = pydicom.dcmread(io.BytesIO(_export(client, rid, "sr", h).content))
    assert draft_sr.VerificationFlag == "UNVERIFIED" and draft_sr.StudyInstanceUID == "1.2.95"
    assert json.loads(_export(client, rid, "fhir", h).content)["status"] == "preliminary"

    client.put(
        f"{API}/reports/{rid}",
        json={"base_version": 1, "impression": "Enlarged heart, otherwise clear."},
        headers=h,
    )
    client.post(f"{API}/reports/{rid}/sign", json={"confirm": True}, headers=h)

    pdf = _export(client, rid, "pdf", h)
    assert pdf.headers["content-type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Enlarged heart, otherwise clear." in text and "radiologist1" in text and "ACC95" in text
    sr = pydicom.dcmread(io.BytesIO(_export(client, rid, "sr", h).content))
    assert sr.VerificationFlag == "VERIFIED" and sr.StudyInstanceUID == "1.2.95"
    encapsulated = pydicom.dcmread(io.BytesIO(_export(client, rid, "encapsulated-pdf", h).content))
    assert encapsulated.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert bytes(encapsulated.EncapsulatedDocument).startswith(b"%PDF")
    fhir = json.loads(_export(client, rid, "fhir", h).content)
    assert fhir["resourceType"] == "DiagnosticReport" and fhir["status"] == "final"
    # Integration keys fetch exports of studies they sent only; researchers never.
    assert client.get(f"{API}/reports/{rid}/export/pdf", headers=callers.integration).status_code == 404
    assert client.get(f"{API}/reports/{rid}/export/pdf", headers=callers.researcher).status_code == 403
    with Session(app.state.engine) as session:
        kinds = [
            e.detail.get("kind")
            for e in session.exec(select(AuditEvent)).all()
            if e.action == "report.export"
        ]
    assert sorted(kinds) == ["encapsulated-pdf", "fhir", "fhir", "pdf", "sr", "sr"]


def test_operations_routes(client: TestClient, callers, worker) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready", headers=callers.admin)
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    client.post(f"{API}/studies", files=[("files", ("a.dcm", dicom_bytes()))], headers=callers.radiologist)
    metrics = client.get("/metrics", headers=callers.integration)
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    body = metrics.text
    assert 'medvlm_draft_jobs{status="queued"} 1.0' in body
    assert 'medvlm_http_requests_total{method="POST",route="/api/v1/studies",status="202"} 1.0' in body
    run_jobs(worker)
    after = client.get("/metrics", headers=callers.admin).text
    assert 'medvlm_draft_jobs{status="done"} 1.0' in after
    assert 'medvlm_draft_jobs{status="queued"} 0.0' in after  # no job is queued any more
