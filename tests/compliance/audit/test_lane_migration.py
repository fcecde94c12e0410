"""Migration 0006_audit_lanes on SQLite and PostgreSQL: a single-chain trail moves into lane 0 intact."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from medvlm.compliance.audit import record, verify
from medvlm.db import get_engine, migrate, session_scope
from medvlm.db.migrations_config import alembic_config


def _old_hash(seq: int, created_at: datetime, actor: str, prev_hash: str) -> str:
    """The 0004 formula, written out here so that the test does not lean on the code it checks."""
    payload = {"seq": seq, "created_at": created_at.isoformat(timespec="microseconds"), "actor": actor,
               "action": "study.read", "resource_type": "study", "resource_id": f"s{seq}",
               "detail": {"n": seq}, "prev_hash": prev_hash}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _old_chain(url: str, count: int) -> str:
    engine = get_engine(url)
    prev = "0" * 64
    with engine.begin() as conn:
        for seq in range(1, count + 1):
            created = datetime(2026, 1, 1, 12, 0, seq, 123456)
            digest = _old_hash(seq, created, f"user:{seq}", prev)
            conn.execute(sa.text(
                "INSERT INTO audit_event (seq, created_at, actor, action, resource_type, resource_id, "
                "detail, prev_hash, hash) VALUES (:seq, :c, :a, 'study.read', 'study', :r, :d, :p, :h)"),
                {"seq": seq, "c": created, "a": f"user:{seq}", "r": f"s{seq}", "d": json.dumps({"n": seq}),
                 "p": prev, "h": digest})
            prev = digest
        conn.execute(sa.text("UPDATE audit_head SET last_seq = :s, last_hash = :h WHERE id = 1"),
                     {"s": count, "h": prev})
    return prev


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("postgres_server").create_database()


def test_existing_chain_moves_to_lane_0_and_stays_valid(fresh_url: str) -> None:
    migrate(fresh_url, "0005_worklist_indexes")
    old_head = _old_chain(fresh_url, 4)
    migrate(fresh_url)
    engine = get_engine(fresh_url)
    with session_scope(engine) as session:
        before = verify(session)
        lane0 = session.execute(sa.text("SELECT last_seq, last_hash FROM audit_head WHERE lane = 0")).one()
        record(session, actor="user:new", action="study.read", resource_type="study", resource_id="s9")
    assert before.ok and before.checked == 4, before.summary()
    assert tuple(lane0) == (4, old_head)  # a head hash published before the upgrade still matches
    with session_scope(engine) as session:
        after = verify(session)
        ids = session.execute(sa.text("SELECT id FROM audit_event ORDER BY id")).scalars().all()
    assert after.ok and after.checked == 5, after.summary()
    assert ids[:4] == [1, 2, 3, 4] and ids[4] > 4  # the id sequence continues after the old rows
    with engine.begin() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
        conn.execute(sa.text("DELETE FROM audit_event WHERE id = 1"))  # triggers recreated


def _config(engine: sa.Engine) -> Config:
    return alembic_config(engine)


def test_downgrade_and_upgrade_again_keep_a_lane_0_chain(fresh_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from medvlm.compliance.audit import chain

    monkeypatch.setattr(chain, "preferred_lane", lambda: 0)
    migrate(fresh_url)
    engine = get_engine(fresh_url)
    with session_scope(engine) as session:
        for i in range(3):
            record(session, actor="user:a", action="study.read", resource_type="study", resource_id=str(i))
    command.downgrade(_config(engine), "0005_worklist_indexes")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT max(seq) FROM audit_event")).scalar_one() == 3
        assert conn.execute(sa.text("SELECT last_seq FROM audit_head WHERE id = 1")).scalar_one() == 3
    migrate(fresh_url)
    with session_scope(engine) as session:
        result = verify(session)
    assert result.ok and result.checked == 3, result.summary()


def test_downgrade_refuses_rows_outside_lane_0(fresh_url: str) -> None:
    migrate(fresh_url)
    engine = get_engine(fresh_url)
    with engine.begin() as conn:  # a row in lane 5 (what another thread would have written)
        conn.execute(sa.text("UPDATE audit_head SET last_seq = 1 WHERE lane = 5"))
        conn.execute(sa.text(
            "INSERT INTO audit_event (lane, lane_seq, created_at, actor, action, resource_type, resource_id, "
            "prev_hash, hash) VALUES (5, 1, :c, 'user:a', 'x', 'y', 'z', :p, :h)"),
            {"c": datetime(2026, 1, 1), "p": "0" * 64, "h": "1" * 64})
    with pytest.raises(RuntimeError, match="lanes other than 0"):
        command.downgrade(_config(engine), "0005_worklist_indexes")
