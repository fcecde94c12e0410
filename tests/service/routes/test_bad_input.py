"""Bad input gets a 4xx naming the problem, never a 5xx, and leaves nothing half written."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from medvlm.db.models import Instance
from medvlm.service.app import create_app
from medvlm.service.db.tables import DraftJob
from medvlm.settings import Settings
from tests.service.helpers import dicom_bytes, run_jobs

API = "/api/v1"
LIMIT = 200_000


@pytest.fixture
def small_app(app_settings: Settings, drafter) -> FastAPI:  # type: ignore[no-untyped-def]
    return create_app(app_settings.model_copy(update={"max_upload_bytes": LIMIT}), drafter=drafter)


@pytest.fixture
def small_client(small_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(small_app, raise_server_exceptions=False) as c:
        yield c


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _multipart(data: bytes, name: str = "x.dcm") -> tuple[bytes, str]:
    boundary = "medvlmboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


UPLOAD_CASES = [
    # (name, filename, payload, expected status, words the message must contain)
    ("text file", "notes.txt", b"this is not DICOM at all" * 10, 422, "nothing ingested"),
    ("truncated DICOM", "cut.dcm", dicom_bytes()[:400], 422, "nothing ingested"),
    ("empty file", "empty.dcm", b"", 422, "nothing ingested"),
    ("path traversal in zip", "evil.zip", _zip({"../../etc/passwd.dcm": dicom_bytes()}), 422, "traversal"),
    ("zip bomb", "bomb.zip", _zip({"a.dcm": b"\0" * 30_000_000}), 422, "zip bomb"),
    ("corrupt zip", "bad.zip", b"PK\x03\x04" + b"\x00" * 100, 422, "nothing ingested"),
]


@pytest.mark.parametrize(
    ("case", "filename", "payload", "status", "words"), UPLOAD_CASES, ids=[c[0] for c in UPLOAD_CASES]
)
def test_bad_uploads(
    client: TestClient, app: FastAPI, callers, case, filename, payload, status, words
) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        f"{API}/studies", files=[("files", (filename, payload))], headers=callers.radiologist
    )
    assert response.status_code == status, response.text
    assert words in response.json()["detail"], response.json()
    with Session(app.state.engine) as session:  # nothing half written
        assert session.exec(select(func.count()).select_from(Instance)).one() == 0
        assert session.exec(select(func.count()).select_from(DraftJob)).one() == 0
    store = app.state.settings.store_dir
    assert not store.exists() or not any(p.is_file() for p in store.rglob("*"))


def test_mixed_upload_keeps_the_good_file_and_names_the_bad(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    files = [("files", ("good.dcm", dicom_bytes(study_uid="1.2.50"))), ("files", ("bad.txt", b"hello" * 50))]
    response = client.post(f"{API}/studies", files=files, headers=callers.radiologist)
    assert response.status_code == 202
    body = response.json()
    assert body["ingested"] == 1 and [r["path"] for r in body["rejected"]] == ["bad.txt"]
    assert body["rejected"][0]["reason"]


def test_oversized_upload_refused_by_content_length(small_client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    body, content_type = _multipart(b"\0" * (LIMIT + 10))
    response = small_client.post(
        f"{API}/studies", content=body, headers={**callers.radiologist, "Content-Type": content_type}
    )
    assert response.status_code == 413 and "limit" in response.json()["detail"]


def test_oversized_stream_without_length_is_cut_off(small_client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    body, content_type = _multipart(b"\0" * (LIMIT * 5))
    sent = []

    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to check up front
        for i in range(0, len(body), 16_384):
            sent.append(i)
            yield body[i : i + 16_384]

    response = small_client.post(
        f"{API}/studies", content=chunks(), headers={**callers.radiologist, "Content-Type": content_type}
    )
    assert response.status_code == 413


MALFORMED = [
    ("post", "/studies", {"content": b"raw bytes", "headers": {"Content-Type": "application/dicom"}}, 415),
    ("post", "/studies", {"data": {"other": "field"}}, 415),
    ("post", "/studies", {"files": [("other", ("x.dcm", b"x"))]}, 422),
    ("get", "/studies/not-a-uid", {}, 422),
    ("get", "/studies/1.2.3.", {}, 422),
    ("get", "/studies/" + "1" * 65, {}, 422),
    ("get", "/studies/1.2.3", {}, 404),
    ("get", "/studies/1.2.3/report", {}, 404),
    ("get", "/studies", {"params": {"page": 0}}, 422),
    ("get", "/studies", {"params": {"page_size": 10_000}}, 422),
    ("get", "/studies", {"params": {"status": "bogus"}}, 422),
    ("get", "/studies", {"params": {"date_from": "yesterday"}}, 422),
    ("get", "/studies", {"params": {"date_from": "2024-02-01", "date_to": "2024-01-01"}}, 422),
    ("get", "/studies", {"params": {"modality": "C'T; drop"}}, 422),
    ("get", "/reports/not-a-uuid", {}, 422),
    ("get", f"/reports/{uuid.uuid4()}", {}, 404),
    ("get", "/jobs/123", {}, 422),
    ("get", "/jobs", {"params": {"study_uid": "abc"}}, 422),
    ("get", "/instances/x/frames/0.png", {}, 422),
    ("get", "/instances/1.2.3/frames/-1.png", {}, 422),
    ("get", "/instances/1.2.3/frames/a/raw", {}, 422),
    ("get", "/instances/1.2.3/frames/0.png", {}, 404),
    ("get", f"/reports/{uuid.uuid4()}/export/docx", {}, 422),
    (
        "put",
        f"/reports/{uuid.uuid4()}",
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        422,
    ),
    ("put", f"/reports/{uuid.uuid4()}", {"json": {"base_version": "one"}}, 422),
    ("post", "/auth/login", {"json": {"username": "", "password": "x"}}, 422),
    ("post", "/auth/login", {"json": ["not", "an", "object"]}, 422),
]


def test_malformed_requests(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    """One app for the whole table (each row is cheap; a fresh app per row is not)."""
    wrong = []
    for method, path, kwargs, status in MALFORMED:
        kwargs = dict(kwargs)
        headers = {**callers.radiologist, **kwargs.pop("headers", {})}
        response = getattr(client, method)(f"{API}{path}", headers=headers, **kwargs)
        if response.status_code != status or not response.json().get("detail"):
            wrong.append((method, path, response.status_code, response.text[:200]))
    assert wrong == []


BAD_FINDINGS = [
    ({"findings": [{"label": "unicorn"}]}, "unknown finding label"),
    ({"findings": [{"label": "cardiomegaly", "laterality": "left"}]}, "laterality"),
    ({"findings": [{"label": "pleural_effusion", "severity": "enormous"}]}, "severity"),
    ({"findings": [{"label": "cardiomegaly", "probability": 1.5}]}, ""),
    ({"findings": [{"label": "cardiomegaly", "colour": "red"}]}, ""),
]


def test_bad_findings_are_refused(client: TestClient, callers, worker) -> None:  # type: ignore[no-untyped-def]
    client.post(
        f"{API}/studies",
        files=[("files", ("a.dcm", dicom_bytes(study_uid="1.2.60")))],
        headers=callers.radiologist,
    )
    run_jobs(worker)
    report = client.get(f"{API}/studies/1.2.60/report", headers=callers.radiologist).json()
    for payload, words in BAD_FINDINGS:
        _refused(client, callers, report, payload, words)
    after = client.get(f"{API}/reports/{report['id']}", headers=callers.radiologist).json()
    assert after["version"] == 1 and after["status"] == "draft"


def _refused(client: TestClient, callers, report: dict, payload: dict, words: str) -> None:  # type: ignore[no-untyped-def]
    for path, body in (
        (f"/reports/{report['id']}", {"base_version": 1, **payload}),
        (f"/reports/{report['id']}/regenerate", payload),
    ):
        method = client.put if path.endswith(report["id"]) else client.post
        response = method(f"{API}{path}", json=body, headers=callers.radiologist)
        assert response.status_code == 422 and words in str(response.json()["detail"]), response.text
