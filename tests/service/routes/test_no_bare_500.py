"""No bare 500s (issue #19 item 5): exports of a patient without a birth date, a database that is down,
a full disk. Every failure is a JSON body with a status that says whose trouble it is."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pydicom
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydicom.data import get_testdata_file

from medvlm.dicom import store as store_module
from medvlm.service.app import create_app
from medvlm.settings import Settings
from tests.service.helpers import dicom_bytes, related, run_jobs

API = "/api/v1"


def _without_birth_date() -> bytes:
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(study_uid="1.2.96")))
    del ds.PatientBirthDate
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["sr", "pdf", "fhir", "encapsulated-pdf"])
def test_exports_without_a_birth_date(client: TestClient, callers, worker, kind: str) -> None:  # type: ignore[no-untyped-def]
    h = callers.radiologist
    assert client.post(f"{API}/studies", files=[("files", ("a.dcm", _without_birth_date()))],
                       headers=h).status_code == 202
    run_jobs(worker)
    rid = client.get(f"{API}/studies/1.2.96/report", headers=h).json()["id"]
    assert client.post(f"{API}/reports/{rid}/sign", json={"confirm": True}, headers=h).status_code == 200
    response = client.get(f"{API}/reports/{rid}/export/{kind}", headers=h)
    assert response.status_code == 200, response.text[:300]


@pytest.fixture
def down_client(app_settings: Settings, drafter) -> TestClient:  # type: ignore[no-untyped-def]
    """The app on a PostgreSQL URL where nothing listens (a database that is down)."""
    settings = app_settings.model_copy(update={
        "database_url": "postgresql+psycopg://medvlm:x@127.0.0.1:9/medvlm?connect_timeout=1"})
    return TestClient(create_app(settings, drafter=drafter), raise_server_exceptions=False)


def test_a_database_that_is_down_is_503_with_json(down_client: TestClient) -> None:
    key = {"X-API-Key": "mvk_" + "a" * 43}
    bearer = {"Authorization": "Bearer " + "x.y.z"}
    body, stow_headers = related(("application/dicom", dicom_bytes()))
    calls = [
        down_client.post(f"{API}/auth/login", json={"username": "a", "password": "b"}),
        down_client.get("/ready", headers=key),
        down_client.get(f"{API}/studies", headers=key),
        down_client.post(f"{API}/dicomweb/studies", content=body, headers={**stow_headers, **key}),
        down_client.post(f"{API}/studies", files=[("files", ("a.dcm", dicom_bytes()))], headers=key),
    ]
    for response in calls:
        assert response.status_code == 503, (response.request.url, response.status_code, response.text)
        assert response.json()["error"] == "DatabaseUnavailableError"
        assert "database" in response.json()["detail"]
    assert down_client.get(f"{API}/studies", headers=bearer).status_code == 401  # tokens: checked first


def test_a_full_disk_is_507_and_stores_nothing(client: TestClient, callers, app: FastAPI,
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    real_fdopen = os.fdopen

    def full(fd: int, *args, **kwargs):  # type: ignore[no-untyped-def]
        handle = real_fdopen(fd, *args, **kwargs)

        def write(_data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        handle.write = write  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr(store_module.os, "fdopen", full)
    upload = client.post(f"{API}/studies", files=[("files", ("a.dcm", dicom_bytes()))],
                         headers=callers.radiologist)
    assert upload.status_code == 507 and upload.json()["error"] == "StorageFullError"
    body, headers = related(("application/dicom", dicom_bytes()))
    stow = client.post(f"{API}/dicomweb/studies", content=body, headers={**headers, **callers.integration})
    assert stow.status_code == 507
    store = app.state.settings.store_dir
    assert not store.exists() or not [p for p in store.rglob("*") if p.is_file()]
    assert client.get(f"{API}/studies", headers=callers.radiologist).json()["total"] == 0


def test_an_unexpected_error_is_a_json_500(app: FastAPI, callers) -> None:  # type: ignore[no-untyped-def]
    @app.get("/boom-for-test")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/boom-for-test")
    assert response.status_code == 500 and response.headers["content-type"] == "application/json"
    assert "secret internals" not in response.text


def test_a_palette_image_without_lut_is_422_at_upload(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    """Accepted before, then every frame PNG answered 500."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PhotometricInterpretation = "PALETTE COLOR"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    upload = client.post(f"{API}/studies", files=[("files", ("p.dcm", buffer.getvalue()))],
                         headers=callers.radiologist)
    assert upload.status_code == 422 and "lookup table" in upload.text


def test_huge_integers_in_queries_are_422(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    """Found by the schemathesis run: an offset past 2**63 overflowed SQLite's integer (an exception)."""
    response = client.get(f"{API}/dicomweb/studies?offset={10**20}", headers=callers.radiologist)
    assert response.status_code == 422


def test_a_stored_palette_image_without_lut_is_422_not_500(client: TestClient, callers, app: FastAPI) -> None:  # type: ignore[no-untyped-def]
    """Stored before intake refused it (or written by another tool): the frame is a 422 naming why."""
    import shutil

    from sqlmodel import Session, select

    from medvlm.db.models import Instance

    upload = client.post(f"{API}/studies", files=[("files", ("a.dcm", dicom_bytes(study_uid="1.2.99")))],
                         headers=callers.radiologist)
    assert upload.status_code == 202
    with Session(app.state.engine) as session:
        [instance] = session.exec(select(Instance)).all()
    ds = pydicom.dcmread(instance.path)
    ds.PhotometricInterpretation = "PALETTE COLOR"  # as an older intake let through
    path = Path(instance.path)
    path.chmod(0o644)
    broken = path.with_suffix(".tmp")
    ds.save_as(broken, enforce_file_format=True)
    shutil.move(broken, path)
    frame = f"{API}/instances/{instance.sop_instance_uid}/frames/0.png"
    response = client.get(frame, headers=callers.radiologist)
    assert response.status_code == 422 and "cannot be rendered" in response.json()["detail"]
