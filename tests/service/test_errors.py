"""One status per error class; an audit write that fails takes the action down with it."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

import medvlm
from medvlm.compliance.errors import AuditError
from medvlm.errors import (
    DatabaseUnavailableError,
    MedVLMError,
    StorageFullError,
    StorageUnavailableError,
)
from medvlm.pacs.errors import PacsError
from medvlm.service.api.errors import STATUS_BY_ERROR, status_for
from medvlm.service.db.tables import Report, ReportVersion
from medvlm.service.errors import DirectoryUnavailableError, DraftingFailedError
from tests.service.helpers import dicom_bytes, run_jobs


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_every_error_class_has_a_4xx_or_a_reasoned_status() -> None:
    for package in (medvlm,):  # medvlm.service and medvlm.compliance included
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if module.name.endswith("errors"):
                importlib.import_module(module.name)
    classes = _all_subclasses(MedVLMError)
    assert len(classes) >= 15
    for cls in classes:
        status = status_for(cls("x"))
        server_side = issubclass(cls, AuditError | DraftingFailedError | DatabaseUnavailableError
                                 | StorageUnavailableError | DirectoryUnavailableError)  # with a reason
        full = issubclass(cls, StorageFullError) and status == 507  # Insufficient Storage
        gateway = issubclass(cls, PacsError) and status == 502  # the PACS we asked failed, not the caller
        assert 400 <= status < 500 or (server_side and status == 503) or full or gateway, cls
    assert len({cls for cls, _ in STATUS_BY_ERROR}) == len(STATUS_BY_ERROR)  # each class mapped once


def test_failed_audit_write_rolls_the_action_back(
    client: TestClient, app, callers, worker, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    client.post(
        "/api/v1/studies",
        files=[("files", ("a.dcm", dicom_bytes(study_uid="1.2.97")))],
        headers=callers.radiologist,
    )
    run_jobs(worker)
    rid = client.get("/api/v1/studies/1.2.97/report", headers=callers.radiologist).json()["id"]

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AuditError("audit store unavailable")

    monkeypatch.setattr("medvlm.service.audit.append", broken)
    response = client.post(f"/api/v1/reports/{rid}/sign", json={"confirm": True}, headers=callers.radiologist)
    assert response.status_code == 503 and "audit store unavailable" in response.json()["detail"]
    with Session(app.state.engine) as session:
        report = session.get(Report, rid)
        assert report.status == "draft" and report.signed_at is None
        assert len(session.exec(select(ReportVersion).where(ReportVersion.report_id == rid)).all()) == 1
    monkeypatch.undo()
    assert (
        client.post(
            f"/api/v1/reports/{rid}/sign", json={"confirm": True}, headers=callers.radiologist
        ).status_code
        == 200
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_failed_audit_write_fails_login(client: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AuditError("down")

    monkeypatch.setattr("medvlm.service.audit.append", broken)
    response = client.post("/api/v1/auth/login", json={"username": "x", "password": "y"})
    assert response.status_code == 503


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_model_crash_during_regenerate_is_reported(client: TestClient, app, callers, worker) -> None:  # type: ignore[no-untyped-def]
    from tests.service.helpers import FailingDrafter

    client.post(
        "/api/v1/studies",
        files=[("files", ("a.dcm", dicom_bytes(study_uid="1.2.98")))],
        headers=callers.radiologist,
    )
    run_jobs(worker)
    rid = client.get("/api/v1/studies/1.2.98/report", headers=callers.radiologist).json()["id"]
    failing = FailingDrafter("CUDA out of memory")
    app.state.drafter = lambda: failing
    response = client.post(
        f"/api/v1/reports/{rid}/regenerate",
        json={"findings": [{"label": "cardiomegaly"}]},
        headers=callers.radiologist,
    )
    assert response.status_code == 503 and "CUDA out of memory" in response.json()["detail"]
    assert client.get(f"/api/v1/reports/{rid}", headers=callers.radiologist).json()["version"] == 1
    app.state.drafter = lambda: None
    response = client.post(
        f"/api/v1/reports/{rid}/regenerate", json={"findings": []}, headers=callers.radiologist
    )
    assert response.status_code == 409 and "no validated model is available" in response.json()["detail"]
