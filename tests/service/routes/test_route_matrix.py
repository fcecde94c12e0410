"""Role x endpoint matrix generated from the app's route table, for users and API keys of every role.

Every route under /api/v1 (but login) and the ops routes but /health must answer 401 without
credentials and with expired, tampered or revoked ones; 403 for a role the policy does not grant;
neither for a role it grants (ids here are well-formed but unknown, so those calls end in 404/422).
API keys are machines: whatever role a key row carries (older versions let admins make radiologist and
admin keys), a key never gets a person's acts (``deps.PERSON_ONLY``: writing reports, administering) nor
the routes about one's own password and sessions. No answer is ever a 5xx. A route added without an auth
dependency fails ``test_every_route_is_guarded``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from medvlm.service.api.deps import PERSON_ONLY
from medvlm.service.app import create_app
from medvlm.service.auth.policy import GRANTS, Permission, Role
from medvlm.service.auth.security import api_key_digest, create_token, new_api_key
from medvlm.service.db.tables import ApiKey, User, UserSession, now_utc
from tests.service.conftest import SECRET
from tests.service.helpers import make_user, token_for

PUBLIC = {("GET", "/health"), ("POST", "/api/v1/auth/login"), ("GET", "/api/v1/auth/oidc/login"),
          ("GET", "/api/v1/auth/oidc/callback")}
SAMPLE = {
    "study_uid": "1.2.826.0.1.3680043.2.1",
    "series_uid": "1.2.826.0.1.3680043.2.3",
    "sop_uid": "1.2.826.0.1.3680043.2.2",
    "report_id": str(uuid.UUID(int=1)),
    "job_id": str(uuid.UUID(int=2)),
    "frame": "0",
    "frames": "1",
    "kind": "pdf",
    "user_id": str(uuid.UUID(int=3)),
    "key_id": str(uuid.UUID(int=4)),
}
# Routes that end the caller's own sessions: called last.
ENDS_SESSIONS = ("/logout", "/sessions/end-all")


def _permission(dependant) -> Permission | str | None:  # type: ignore[no-untyped-def]
    """The permission a route requires, "auth" for authentication only, None for a public route."""
    found: Permission | str | None = None
    for dep in dependant.dependencies:
        if getattr(dep.call, "person_only", False):
            return "person"
        perm = getattr(dep.call, "permission", None)
        if perm is not None:
            return perm
        # get_principal, or the credentials that stand in for it in a sync route (service.api.routing)
        if getattr(dep.call, "__name__", "") == "get_principal" or getattr(dep.call, "authenticates", False):
            found = "auth"
        inner = _permission(dep)
        if inner is not None:
            return inner
    return found


def route_table(app: FastAPI) -> list[tuple[str, str, Permission | str | None]]:
    rows = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        path = ctx.path
        if not (path.startswith("/api/") or path in ("/health", "/ready", "/metrics")):
            continue  # docs, OpenAPI and the static UI pages carry no data
        for method in sorted(getattr(route, "methods", set()) - {"HEAD"}):
            rows.append((method, path, _permission(route.dependant)))
    return rows


def _url(path: str) -> str:
    for name, value in SAMPLE.items():
        path = path.replace("{" + name + "}", value)
    return path


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, Permission | str | None]]:
    from medvlm.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("d"), environment="test", secret_key=SECRET)
    return route_table(create_app(settings))


def test_every_route_is_guarded(table) -> None:  # type: ignore[no-untyped-def]
    assert len(table) >= 24
    public = {(m, p) for m, p, perm in table if perm is None}
    assert public == PUBLIC
    assert {p for _, p, _ in table} >= {"/api/v1/studies", "/api/v1/reports/{report_id}/sign", "/metrics"}


def test_policy_facts() -> None:
    """A few rules spelled out, so that a careless edit of the policy table shows up here too."""
    assert Role.RESEARCHER not in GRANTS[Permission.STUDY_READ]  # researchers never see identifiable studies
    assert GRANTS[Permission.REPORT_WRITE] == {Role.RADIOLOGIST}  # only clinicians edit and sign
    assert GRANTS[Permission.ADMIN] == {Role.ADMIN}
    assert Role.INTEGRATION not in GRANTS[Permission.CORRECTIONS_READ]


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    kwargs = {"json": {}} if method in ("POST", "PUT") and not path.endswith("/studies") else {}
    return client.request(method, _url(path), headers=headers, **kwargs).status_code


def _principals(app: FastAPI, callers) -> dict[tuple[str, str], dict[str, str]]:  # type: ignore[no-untyped-def]
    """(kind, role) -> headers: a user of each role (integration too, as older versions allowed) and a key
    of each role (only integration keys can be made now; the others are rows an older version left)."""
    found = {("user", role): callers.of(role) for role in ("radiologist", "researcher", "admin")}
    found[("key", "integration")] = callers.integration
    with Session(app.state.engine) as session:
        admin = session.exec(select(User).where(User.username == "admin1")).one()
        person = make_user(session, "integration-person", "integration")
        found[("user", "integration")] = {"Authorization": f"Bearer {token_for(session, SECRET, person)}"}
        for role in ("radiologist", "researcher", "admin"):
            key = new_api_key()
            session.add(ApiKey(name=f"legacy-{role}", key_hash=api_key_digest(key), role=role,
                               created_by=admin.id))
            found[("key", role)] = {"X-API-Key": key}
        session.commit()
    return found


def _fresh_sessions(app: FastAPI) -> dict[tuple[str, str], dict[str, str]]:
    found = {}
    with Session(app.state.engine) as session:
        for role, username in (("radiologist", "radiologist1"), ("researcher", "researcher1"),
                               ("admin", "admin1"), ("integration", "integration-person")):
            user = session.exec(select(User).where(User.username == username)).one()
            found[("user", role)] = {"Authorization": f"Bearer {token_for(session, SECRET, user)}"}
        session.commit()
    return found


def _granted(kind: str, role: str, perm: Permission | str) -> bool:
    if perm == "auth":
        return True
    if perm == "person":
        return kind == "user"
    if kind == "key" and perm in PERSON_ONLY:
        return False
    return role in GRANTS[perm]  # type: ignore[index]


def test_matrix(client: TestClient, app: FastAPI, callers, table) -> None:  # type: ignore[no-untyped-def]
    principals = _principals(app, callers)
    assert len(principals) == 8
    failures = []
    calls = 0
    # Logout and ending all sessions end the caller's sessions: call them last.
    for method, path, perm in sorted(table, key=lambda row: row[1].endswith(ENDS_SESSIONS)):
        if perm is None:
            continue
        if path.endswith(ENDS_SESSIONS):  # the previous one ended them: each user logs in again
            principals.update(_fresh_sessions(app))
        status = _call(client, method, path, {})
        if status != 401:
            failures.append((method, path, "anonymous", status))
        for (kind, role), headers in principals.items():
            status = _call(client, method, path, headers)
            calls += 1
            granted = _granted(kind, role, perm)
            if status >= 500 or (granted and status in (401, 403)) or (not granted and status != 403):
                failures.append((method, path, f"{kind}:{role}", status))
    print(f"role x endpoint matrix: {calls} calls, {len(table)} routes x {len(principals)} principals")
    assert failures == []


def _bad_tokens(app: FastAPI) -> dict[str, dict[str, str]]:
    with Session(app.state.engine) as session:
        user = session.exec(select(User).where(User.username == "radiologist1")).one()
        fresh = UserSession(user_id=user.id)
        idle = UserSession(user_id=user.id, last_seen_at=now_utc() - timedelta(hours=2))
        ended = UserSession(user_id=user.id, ended_at=now_utc())
        session.add_all([fresh, idle, ended])
        key = session.exec(select(ApiKey).where(ApiKey.name == "other_integration")).one()
        key.revoked_at = now_utc()
        session.add(key)
        session.commit()
        good = create_token(SECRET, user_id=user.id, session_id=fresh.id)
        head, body, signature = good.split(".")
        flipped = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
        return {
            "expired": create_token(
                SECRET, user_id=user.id, session_id=fresh.id, now=datetime.now(UTC) - timedelta(hours=13)
            ),
            "tampered signature": f"{head}.{body}.{flipped}",
            "other secret": create_token("another-secret-" + "y" * 40, user_id=user.id, session_id=fresh.id),
            "idle session": create_token(SECRET, user_id=user.id, session_id=idle.id),
            "ended session": create_token(SECRET, user_id=user.id, session_id=ended.id),
            "wrong user for session": create_token(SECRET, user_id=str(uuid.uuid4()), session_id=fresh.id),
            "garbage": "not-a-token",
        }


def test_bad_credentials_are_refused_everywhere(client: TestClient, app: FastAPI, callers, table) -> None:  # type: ignore[no-untyped-def]
    revoked_key = callers.other_integration
    tokens = _bad_tokens(app)
    guarded = [(m, p) for m, p, perm in table if perm is not None]
    for name, token in tokens.items():
        for method, path in guarded:
            status = _call(client, method, path, {"Authorization": f"Bearer {token}"})
            assert status == 401, (name, method, path, status)
    for method, path in guarded:
        assert _call(client, method, path, revoked_key) == 401
        assert _call(client, method, path, {"X-API-Key": "mvk_unknown"}) == 401
