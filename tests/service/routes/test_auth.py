"""Login, logout, idle expiry, users and API keys; login success and failure are audited."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from medvlm.compliance.audit import AuditEvent
from medvlm.errors import ConfigError
from medvlm.service.api.deps import Credentials, authorize
from medvlm.service.app import create_app
from medvlm.service.auth.security import decode_token
from medvlm.service.db.tables import UserSession, now_utc, utc
from medvlm.settings import DEFAULT_SECRET, Settings
from tests.service.helpers import dicom_bytes, make_user, related

API = "/api/v1"


def _actions(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        return [(e.action, e.actor) for e in session.exec(select(AuditEvent)).all()]


def test_login_me_logout(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        make_user(session, "dr_who", "radiologist", password="a long enough password")
        session.commit()
    bad = client.post(f"{API}/auth/login", json={"username": "dr_who", "password": "wrong"})
    assert bad.status_code == 401 and bad.json()["detail"] == "wrong username or password"
    unknown = client.post(f"{API}/auth/login", json={"username": "nobody", "password": "x"})
    assert unknown.status_code == 401 and unknown.json()["detail"] == bad.json()["detail"]
    ok = client.post(f"{API}/auth/login", json={"username": "dr_who", "password": "a long enough password"})
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "bearer" and body["user"] == {"username": "dr_who", "role": "radiologist"}
    assert body["expires_in"] == app.state.settings.session_idle_minutes * 60
    h = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get(f"{API}/auth/me", headers=h).json() == {
        "username": "dr_who",
        "role": "radiologist",
        "auth": "session",
    }
    assert client.post(f"{API}/auth/logout", headers=h).status_code == 204
    after = client.get(f"{API}/auth/me", headers=h)
    assert after.status_code == 401 and "session ended" in after.json()["detail"]
    actions = _actions(app)
    assert ("login.failure", "user:dr_who") in actions and ("login.failure", "user:nobody") in actions
    assert ("login.success", "user:dr_who") in actions


def _logged_in(client: TestClient, app, username: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A new radiologist's Authorization header, from a real login (one session row)."""
    with Session(app.state.engine) as session:
        make_user(session, username, "radiologist", password="a long enough password")
        session.commit()
    token = client.post(
        f"{API}/auth/login", json={"username": username, "password": "a long enough password"}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _last_seen(app, ago: timedelta | None = None) -> datetime | None:  # type: ignore[no-untyped-def]
    """The session's last activity; with ``ago``, first set it that long before now."""
    with Session(app.state.engine) as session:
        row = session.exec(select(UserSession)).one()
        if ago is not None:
            row.last_seen_at = now_utc() - ago
            session.add(row)
            session.commit()
        return utc(row.last_seen_at)


def test_idle_session_expires(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    h = _logged_in(client, app, "idle")
    assert client.get(f"{API}/auth/me", headers=h).status_code == 200
    idle = app.state.settings.session_idle_minutes
    _last_seen(app, timedelta(minutes=idle - 1))  # still inside the window
    assert client.get(f"{API}/auth/me", headers=h).status_code == 200  # and this touches the session
    touched = _last_seen(app)
    assert touched is not None and now_utc() - touched < timedelta(minutes=1)
    _last_seen(app, timedelta(minutes=idle + 1))
    expired = client.get(f"{API}/auth/me", headers=h)
    assert expired.status_code == 401 and "idle" in expired.json()["detail"]
    assert client.get(f"{API}/auth/me", headers=h).status_code == 401  # and it stays ended
    with Session(app.state.engine) as session:  # recorded as ended, though the request that saw it failed
        assert session.exec(select(UserSession)).one().ended_at is not None


def test_admin_creates_users_and_keys(client: TestClient, callers, app) -> None:  # type: ignore[no-untyped-def]
    new = {"username": "rad2", "password": "another long password", "role": "radiologist"}
    created = client.post(f"{API}/users", json=new, headers=callers.admin)
    assert created.status_code == 201 and created.json()["username"] == "rad2"
    assert "password" not in created.text and "hash" not in created.text
    assert client.post(f"{API}/users", json=new, headers=callers.admin).status_code == 409
    for bad in (
        {**new, "username": "x", "password": "short"},
        {**new, "username": "y", "role": "god"},
        {**new, "username": "../etc"},
    ):
        assert client.post(f"{API}/users", json=bad, headers=callers.admin).status_code == 422
    login = client.post(f"{API}/auth/login", json={"username": "rad2", "password": "another long password"})
    assert login.status_code == 200

    key = client.post(f"{API}/api-keys", json={"name": "pacs"}, headers=callers.admin)
    assert key.status_code == 201 and key.json()["role"] == "integration"
    secret = key.json()["key"]
    me = client.get(f"{API}/auth/me", headers={"X-API-Key": secret})
    assert me.json() == {"username": "pacs", "role": "integration", "auth": "api_key"}
    assert client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    # Keys are for integrations only: no key with a person's role (see test_identity for older rows).
    admin_key = client.post(f"{API}/api-keys", json={"name": "ops", "role": "admin"}, headers=callers.admin)
    assert admin_key.status_code == 422


@pytest.mark.parametrize(
    ("environment", "secret", "message"),
    [
        ("production", DEFAULT_SECRET, None),  # refused by medvlm.settings itself
        ("test", DEFAULT_SECRET, "default secret"),
        ("test", "short", "at least 32"),
    ],
)
def test_unsafe_secrets_refused_outside_development(tmp_path, environment, secret, message) -> None:  # type: ignore[no-untyped-def]
    if message is None:
        with pytest.raises(ValueError, match="MEDVLM_SECRET_KEY"):
            Settings(data_dir=tmp_path, environment=environment, secret_key=secret)
        return
    with pytest.raises(ConfigError, match=message):
        create_app(Settings(data_dir=tmp_path, environment=environment, secret_key=secret))


def test_development_mode_accepts_the_default_secret(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert create_app(Settings(data_dir=tmp_path, environment="development")).title == "MedVLM"


ONLY_POSTGRES = [pytest.param("postgres", marks=pytest.mark.postgres)]  # SQLite has no row locks


@pytest.mark.parametrize("database_url", ONLY_POSTGRES, indirect=True)
def test_a_request_never_waits_for_another_touching_the_same_session(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    """Requests of one user past the touch interval all want to write last_seen; none may queue for it."""
    h = _logged_in(client, app, "busy")
    _last_seen(app, timedelta(minutes=5))  # past the touch interval: this request will want to write it
    with app.state.engine.connect() as other, ThreadPoolExecutor(1) as pool:
        # Another request of this user, mid-transaction, holding the session row.
        other.execute(sa.text("SELECT id FROM service_sessions FOR UPDATE"))
        answer = pool.submit(client.get, f"{API}/auth/me", headers=h)
        try:
            assert answer.result(timeout=30).status_code == 200  # served while the row is locked
        finally:
            other.rollback()


def _writer_gets_in_at_once(app) -> None:  # type: ignore[no-untyped-def]
    """Fail at once, instead of waiting, if any transaction holds a write lock on the session row."""
    engine = app.state.engine
    if engine.dialect.name == "sqlite":  # one write lock for the whole file
        other = sqlite3.connect(engine.url.database, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
        return
    with engine.begin() as other:
        other.exec_driver_sql("SET LOCAL lock_timeout = '1s'")
        other.exec_driver_sql("UPDATE service_sessions SET last_seen_at = last_seen_at")


def test_touching_a_session_holds_no_lock_for_the_rest_of_the_request(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    """The touch commits on its own: routes that write in transactions of their own (uploads ingest and
    queue outside the request's session) must not wait for a lock their own request holds.

    Regression: on SQLite the touch ran in the request's transaction, so an upload's ingest waited the
    busy timeout (60 s, then retries) for its own request's write lock (seen as a hung upload in CI).
    """
    token = _logged_in(client, app, "toucher")["Authorization"].removeprefix("Bearer ")
    _last_seen(app, timedelta(minutes=5))  # past the touch interval: resolving the caller writes last_seen
    with Session(app.state.engine) as request_session:
        settings = app.state.settings
        claims = decode_token(settings.secret_key, token)
        credentials = Credentials(settings.session_idle_minutes, claims=claims)
        assert authorize(request_session, credentials, None).name == "toucher"
        _writer_gets_in_at_once(app)  # while the request's session is still open
    touched = _last_seen(app)
    assert touched is not None and now_utc() - touched < timedelta(minutes=1)


def test_uploads_by_a_session_due_a_touch_are_stored(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    h = _logged_in(client, app, "uploader")
    stow_body, stow_type = related(("application/dicom", dicom_bytes()))
    form = [("files", ("a.dcm", dicom_bytes(), "application/dicom"))]
    _last_seen(app, timedelta(minutes=5))
    assert client.post(f"{API}/studies", headers=h, files=form).status_code == 202
    _last_seen(app, timedelta(minutes=5))
    stow = client.post(f"{API}/dicomweb/studies", headers={**h, **stow_type}, content=stow_body)
    assert stow.status_code == 200, stow.text
