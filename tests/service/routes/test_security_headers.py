"""Browser headers (issue #19 item 12): CSP with frame-ancestors, X-Frame-Options, nosniff,
Referrer-Policy on every answer; no-store on patient JSON; no Swagger UI pulled from a CDN."""

from __future__ import annotations

from fastapi.testclient import TestClient

from medvlm.service.security_headers import CSP
from tests.service.helpers import dicom_bytes, run_jobs

API = "/api/v1"


def _browser_headers_present(headers) -> None:  # type: ignore[no-untyped-def]
    assert headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP and "http" not in CSP
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_every_kind_of_answer_carries_the_headers(client: TestClient, callers, worker) -> None:  # type: ignore[no-untyped-def]
    h = callers.radiologist
    upload = client.post(f"{API}/studies", files=[("files", ("a.dcm", dicom_bytes(study_uid="1.2.98")))],
                         headers=h)
    run_jobs(worker)
    study = client.get(f"{API}/studies/1.2.98", headers=h)
    sop = study.json()["series"][0]["instances"][0]["sop_instance_uid"]
    answers = {
        "upload": upload, "worklist": client.get(f"{API}/studies", headers=h), "study": study,
        "report": client.get(f"{API}/studies/1.2.98/report", headers=h),
        "401": client.get(f"{API}/studies"), "404": client.get(f"{API}/studies/1.2.3", headers=h),
        "ui": client.get("/"), "frame": client.get(f"{API}/instances/{sop}/frames/0.png", headers=h),
    }
    for name, response in answers.items():
        assert response.status_code < 500, name
        _browser_headers_present(response.headers)
    for name in ("upload", "worklist", "study", "report", "401", "404"):
        assert answers[name].headers["cache-control"] == "no-store", name
    assert answers["frame"].headers["cache-control"].startswith("private")  # its own short private cache


def test_no_docs_from_a_cdn(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        response = client.get(path)
        assert response.status_code == 404 and "cdn" not in response.text.lower()
    assert client.get("/openapi.json").json()["info"]["title"] == "MedVLM"  # the schema is still published
