"""Through the real service: an action whose audit write fails does not happen, and the chain stays whole.

The audit trail is broken the way a misconfigured deployment breaks it (the chain head row is gone);
signing, editing and exporting must then fail without changing anything, and succeed again once the
head is restored. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from medvlm.compliance.audit import verify
from medvlm.service.jobs.worker import Worker
from tests.service.helpers import dicom_bytes, run_jobs

API = "/api/v1"


_saved_heads: list[dict] = []


def _head(client: TestClient, *, present: bool) -> None:
    """Delete every lane head (present=False), or put them back as they were."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        if present:
            conn.execute(sa.text("INSERT INTO audit_head (lane, last_seq, last_hash) VALUES (:lane, :s, :h)"),
                         _saved_heads)
        else:
            _saved_heads[:] = [{"lane": r.lane, "s": r.last_seq, "h": r.last_hash} for r in conn.execute(
                sa.text("SELECT lane, last_seq, last_hash FROM audit_head"))]
            conn.execute(sa.text("DELETE FROM audit_head"))


def test_actions_fail_without_their_audit_row(service: tuple[TestClient, Worker, dict]) -> None:
    client, worker, h = service
    assert client.post(f"{API}/studies", files=[("files", ("a.dcm", dicom_bytes(study_uid="1.2.9"), "x"))],
                       headers=h).status_code == 202
    assert run_jobs(worker) == 1
    report = client.get(f"{API}/studies/1.2.9/report", headers=h).json()
    rid = report["id"]

    _head(client, present=False)
    attempts = [
        ("put", f"/reports/{rid}", {"base_version": 1, "impression": "Changed while unaudited."}),
        ("post", f"/reports/{rid}/sign", {"confirm": True}),
        ("get", f"/reports/{rid}/export/pdf", None),
        ("get", "/studies/1.2.9/report", None),
    ]
    for method, path, body in attempts:
        kwargs = {"json": body} if body is not None else {}
        response = getattr(client, method)(f"{API}{path}", headers=h, **kwargs)
        # The status is the service's choice (503: the server cannot audit); what matters is that it
        # failed, said why, and (checked below) changed nothing.
        assert response.status_code >= 400, (path, response.status_code, response.text)
        assert response.json()["error"] == "AuditError", response.text
        assert "audit chain head row is missing" in response.json()["detail"], response.text

    _head(client, present=True)
    after = client.get(f"{API}/studies/1.2.9/report", headers=h).json()
    assert (after["status"], after["version"], after["impression"]) == ("draft", 1, report["impression"])
    signed = client.post(f"{API}/reports/{rid}/sign", json={"confirm": True}, headers=h)
    assert signed.status_code == 200, signed.text
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        result = verify(session)
        actions = session.exec(sa.text("SELECT action FROM audit_event ORDER BY created_at, id")).all()  # type: ignore[call-overload]
    assert result.ok, result.summary()
    assert [a[0] for a in actions].count("report.sign") == 1
