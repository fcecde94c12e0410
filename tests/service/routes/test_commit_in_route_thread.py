"""Sync routes commit their session in their own worker thread; ``get_db`` then needs no thread hop."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session

from medvlm.compliance.audit import AuditEvent
from medvlm.service.api import deps
from medvlm.service.api.routing import CommittingRoute

PW = "a fine long passphrase"  # passes the password policy (service.auth.passwords)

API = "/api/v1"


def test_every_api_route_commits_in_its_own_thread(app) -> None:  # type: ignore[no-untyped-def]
    api_routes = [ctx.original_route for ctx in iter_route_contexts(app.routes) if ctx.path.startswith(API)]
    assert len(api_routes) > 20
    assert [r.path for r in api_routes if not isinstance(r, CommittingRoute)] == []


def _audit_rows(app) -> int:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        return int(session.exec(sa.select(sa.func.count()).select_from(AuditEvent)).one()[0])


@pytest.mark.parametrize(
    ("method", "path", "caller", "body", "status"),
    [
        ("GET", "/studies", "radiologist", None, 200),  # a read: the route opens and closes its session
        ("POST", "/users", "admin", {"username": "hop", "password": PW, "role": "researcher"}, 201),
    ],
    ids=["read", "write"],
)
def test_a_request_is_committed_with_its_audit_row_in_the_route_thread(  # type: ignore[no-untyped-def]
    client: TestClient, callers, app, monkeypatch: pytest.MonkeyPatch, method, path, caller, body, status
) -> None:
    commits: list[str] = []
    hops: list[object] = []
    real_commit = Session.commit

    def recording_commit(self: Session) -> None:
        commits.append(threading.current_thread().name)
        real_commit(self)

    real_hop = deps.run_in_threadpool

    async def recording_hop(fn, *args):  # type: ignore[no-untyped-def]
        hops.append(fn)
        return await real_hop(fn, *args)

    monkeypatch.setattr(Session, "commit", recording_commit)
    monkeypatch.setattr(deps, "run_in_threadpool", recording_hop)
    before = _audit_rows(app)
    headers = getattr(callers, caller)
    assert client.request(method, f"{API}{path}", headers=headers, json=body).status_code == status
    assert _audit_rows(app) == before + 1  # the action's audit row was committed with it
    assert commits and all(name != "MainThread" for name in commits)
    assert hops == []  # nothing left for get_db to commit or roll back in another hop


def test_a_failed_audit_write_still_fails_the_read(  # type: ignore[no-untyped-def]
    client: TestClient, callers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medvlm.compliance.errors import AuditError
    from medvlm.service import audit as service_audit

    def broken(*_a, **_k):  # type: ignore[no-untyped-def]
        raise AuditError("audit write failed: disk full")

    monkeypatch.setattr(service_audit, "append", broken)
    response = client.get(f"{API}/studies", headers=callers.radiologist)
    assert response.status_code >= 500 and "audit" in response.text.lower()


def test_a_read_resolves_its_caller_in_the_thread_that_runs_and_commits_it(  # type: ignore[no-untyped-def]
    client: TestClient, callers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync dependency would be a thread-pool hop of its own: the lookup runs in the route's thread."""
    from medvlm.service.api import routing

    threads: dict[str, int] = {}
    real_authorize, real_commit = routing.authorize, Session.commit

    def recording_authorize(*args):  # type: ignore[no-untyped-def]
        threads["authorize"] = threading.get_ident()
        return real_authorize(*args)

    def recording_commit(self: Session) -> None:
        threads["commit"] = threading.get_ident()
        real_commit(self)

    monkeypatch.setattr(routing, "authorize", recording_authorize)
    monkeypatch.setattr(Session, "commit", recording_commit)
    assert client.get(f"{API}/studies", headers=callers.radiologist).status_code == 200
    assert threads["authorize"] == threads["commit"] != threading.get_ident()
    # The answers stay those of the dependencies: a role without the right, and an unknown API key.
    assert client.get(f"{API}/studies", headers=callers.researcher).status_code == 403
    assert client.get(f"{API}/studies", headers={"X-API-Key": "mvk_unknown"}).status_code == 401


def test_a_failed_read_returns_its_connection_to_the_pool(client: TestClient, callers, app) -> None:  # type: ignore[no-untyped-def]
    """A GET route opens and closes its own session in its thread: after a 404, a 403 or a 200 nothing
    is left checked out of the pool (on PostgreSQL, a leak would hold a connection and its snapshot)."""
    pool = app.state.engine.pool
    unknown = f"{API}/studies/1.2.826.0.1.3680043.99.1"
    assert client.get(unknown, headers=callers.radiologist).status_code == 404
    assert client.get(f"{API}/studies", headers=callers.researcher).status_code == 403
    assert client.get(f"{API}/studies", headers=callers.radiologist).status_code == 200
    assert pool.checkedout() == 0
