"""Identity and scope (issue #19 items 2 and 3): a user with the integration role sees nothing it did not
send; an API key never signs, edits or administers, whatever role its row carries; people and machines
are created through their own doors."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from medvlm.service.auth.security import api_key_digest, new_api_key
from medvlm.service.db.tables import ApiKey, User
from tests.service.conftest import SECRET
from tests.service.helpers import dicom_bytes, make_user, run_jobs, token_for

API = "/api/v1"


def _key(app: FastAPI, role: str, name: str) -> dict[str, str]:
    """A key row as an older version (or a hand edit) could have left it: any role."""
    key = new_api_key()
    with Session(app.state.engine) as session:
        admin = make_user(session, f"admin-of-{name}", "admin")
        session.add(ApiKey(name=name, key_hash=api_key_digest(key), role=role, created_by=admin.id))
        session.commit()
    return {"X-API-Key": key}


def _integration_user(app: FastAPI) -> dict[str, str]:
    with Session(app.state.engine) as session:  # as `users add --role integration` used to allow
        user = make_user(session, "pacs-person", "integration")
        token = token_for(session, SECRET, user)
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_a_user_with_the_integration_role_sees_no_other_studies(client: TestClient, app: FastAPI, callers,
                                                                 worker) -> None:  # type: ignore[no-untyped-def]
    files = {"files": ("a.dcm", dicom_bytes(), "application/dicom")}
    uploaded = client.post(f"{API}/studies", files=files, headers=callers.radiologist)
    assert uploaded.status_code == 202
    run_jobs(worker)
    [study] = uploaded.json()["study_instance_uids"]
    person = _integration_user(app)
    assert client.get(f"{API}/studies", headers=person).json()["total"] == 0
    assert client.get(f"{API}/studies/{study}", headers=person).status_code == 404
    assert client.get(f"{API}/studies/{study}/report", headers=person).status_code == 404
    assert client.get(f"{API}/dicomweb/studies", headers=person).status_code == 204
    assert client.get(f"{API}/dicomweb/studies/{study}", headers=person).status_code == 404
    assert client.get(f"{API}/jobs", headers=person).json() == []
    assert client.get(f"{API}/studies", headers=callers.integration).json()["total"] == 0
    assert client.get(f"{API}/studies", headers=callers.radiologist).json()["total"] == 1


def test_integration_is_not_a_role_for_people(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    body = {"username": "pacs", "password": "a long enough password 1", "role": "integration"}
    assert client.post(f"{API}/users", json=body, headers=callers.admin).status_code == 422


@pytest.mark.parametrize("role", ["radiologist", "admin", "researcher"])
def test_a_key_cannot_be_made_with_a_persons_role(client: TestClient, callers, role: str) -> None:  # type: ignore[no-untyped-def]
    body = {"name": "Dr. Jane Smith", "role": role}
    made = client.post(f"{API}/api-keys", json=body, headers=callers.admin)
    assert made.status_code == 422


def test_a_radiologist_key_cannot_sign_as_a_person(client: TestClient, app: FastAPI, callers,
                                                   worker) -> None:  # type: ignore[no-untyped-def]
    files = {"files": ("a.dcm", dicom_bytes(), "application/dicom")}
    uploaded = client.post(f"{API}/studies", files=files, headers=callers.radiologist)
    [study] = uploaded.json()["study_instance_uids"]
    run_jobs(worker)
    report = client.get(f"{API}/studies/{study}/report", headers=callers.radiologist).json()
    key = _key(app, "radiologist", "Dr. Jane Smith")
    signed = client.post(f"{API}/reports/{report['id']}/sign", json={"confirm": True}, headers=key)
    assert signed.status_code == 403 and "API key" in signed.json()["detail"]
    edited = client.put(f"{API}/reports/{report['id']}", json={"base_version": report["version"],
                                                                 "impression": "x"}, headers=key)
    assert edited.status_code == 403
    after = client.get(f"{API}/reports/{report['id']}", headers=callers.radiologist).json()
    assert after["signed_by"] is None


def test_an_admin_key_cannot_create_users_or_keys(client: TestClient, app: FastAPI) -> None:
    key = _key(app, "admin", "ops")
    body = {"username": "mallory", "password": "a long enough password 1", "role": "admin"}
    assert client.post(f"{API}/users", json=body, headers=key).status_code == 403
    assert client.post(f"{API}/api-keys", json={"name": "x"}, headers=key).status_code == 403
    with Session(app.state.engine) as session:
        assert session.exec(select(User).where(User.username == "mallory")).first() is None
