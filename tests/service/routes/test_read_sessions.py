"""GET routes write nothing but their audit row; on PostgreSQL they run without a transaction.

Each GET route's session autocommits on PostgreSQL (``service.api.read_sessions``), which is sound only
while a GET writes nothing but its audit row (one atomic statement) and the caller's last-seen time. This
walks every GET route of the app's route table with real ids and records every statement it sends.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from medvlm.service.api.read_sessions import ReadSessionWriteError, read_session, reads_engine
from medvlm.service.db.tables import User
from tests.service.helpers import dicom_bytes, run_jobs
from tests.service.routes.test_route_matrix import route_table

API = "/api/v1"
# The writes a GET may make: its audit row (PostgreSQL: one statement; SQLite: head, then row) and the
# caller's last-seen time.
ALLOWED_WRITES = ("WITH head AS", "UPDATE audit_head", "INSERT INTO audit_event", "UPDATE service_sessions")


def _real_ids(client: TestClient, headers: dict[str, str], worker: Any) -> dict[str, str]:
    files = [("files", ("a.dcm", dicom_bytes(study_uid="1.2.77"), "application/dicom"))]
    assert client.post(f"{API}/studies", files=files, headers=headers).status_code == 202
    assert run_jobs(worker) == 1
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        series_uid, sop_uid = conn.execute(sa.text(
            "SELECT series_instance_uid, sop_instance_uid FROM instances")).one()
        report_id = conn.execute(sa.text("SELECT id FROM service_reports")).scalar_one()
        job_id = conn.execute(sa.text("SELECT id FROM service_draft_jobs")).scalar_one()
    return {"study_uid": "1.2.77", "series_uid": series_uid, "sop_uid": sop_uid, "report_id": report_id,
            "job_id": job_id, "frame": "0", "kind": "pdf"}


def _url(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


def test_get_routes_write_only_their_audit_row(client: TestClient, app: FastAPI, callers, worker) -> None:  # type: ignore[no-untyped-def]
    ids = _real_ids(client, callers.radiologist, worker)
    postgres = app.state.engine.dialect.name == "postgresql"
    sent: list[tuple[str, bool]] = []

    def record(conn: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
        autocommit = getattr(conn.connection.dbapi_connection, "autocommit", None) is True  # psycopg's flag
        sent.append((" ".join(statement.split()), autocommit))

    sa.event.listen(app.state.engine, "before_cursor_execute", record)
    answered: dict[str, int] = {}
    failures = []
    try:
        for method, path, _perm in route_table(app):
            if method != "GET" or path == "/health":
                continue
            admin_only = path in ("/ready", "/metrics") or "/users" in path
            headers = callers.admin if admin_only else callers.radiologist
            sent.clear()
            status = client.get(_url(path, ids), headers=headers).status_code
            answered[path] = status
            for statement, autocommit in sent:
                if not statement.upper().startswith("SELECT") and not statement.startswith(ALLOWED_WRITES):
                    failures.append((path, "writes", statement[:80]))
                if postgres and not autocommit:
                    failures.append((path, "in a transaction", statement[:80]))
        # A write after those GETs, on the pool's same connections: back in a transaction.
        sent.clear()
        body = {"username": "after_reads", "password": "a fine long passphrase", "role": "researcher"}
        assert client.post(f"{API}/users", json=body, headers=callers.admin).status_code == 201
        assert sent and not any(autocommit for _, autocommit in sent), sent
    finally:
        sa.event.remove(app.state.engine, "before_cursor_execute", record)
    assert failures == []
    # Not vacuous: the routes that matter answered with data.
    data_routes = ("/studies", "/studies/{study_uid}", "/reports/{report_id}/export/{kind}",
                   "/instances/{sop_uid}/frames/{frame}.png")
    for path in (API + route for route in data_routes):
        assert answered.get(path) == 200, (path, answered)


def test_a_read_session_refuses_orm_writes(database_url: str) -> None:
    from medvlm.db import get_engine

    engine = reads_engine(get_engine(database_url))
    with read_session(engine) as session:
        session.add(User(username="sneaky", password_hash="x", role="admin"))
        with pytest.raises(ReadSessionWriteError, match="read-only"):
            session.commit()
    with Session(engine) as session:
        assert session.execute(sa.text("SELECT count(*) FROM service_users")).scalar_one() == 0
