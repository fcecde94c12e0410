"""The hash-chained audit trail on SQLite and PostgreSQL: append, verify, catch every kind of tampering."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from compliance.audit import AuditEvent, record, verify
from compliance.audit.chain import row_hash
from compliance.errors import AuditError
from medvlm.db import get_engine, session_scope

REPO = Path(__file__).resolve().parents[3]


def _append(engine: Engine, count: int) -> None:
    with session_scope(engine) as session:
        for i in range(count):
            record(session, actor=f"user:r{i % 2}", action="report.view", resource_type="report",
                   resource_id=f"rep-{i}", detail={"i": i, "note": "ü", "ratio": 0.25})


def _drop_guards(conn: Connection) -> None:
    """What a privileged attacker does first: remove the append-only triggers."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("DROP TRIGGER audit_event_no_change ON audit_event"))
    else:
        conn.execute(sa.text("DROP TRIGGER audit_event_no_update"))
        conn.execute(sa.text("DROP TRIGGER audit_event_no_delete"))


def _swap_rows(conn: Connection) -> None:
    # Swap the positions of rows 2 and 3 (seq is the order of the trail).
    conn.execute(sa.text("UPDATE audit_event SET seq = -2 WHERE seq = 2"))
    conn.execute(sa.text("UPDATE audit_event SET seq = 2 WHERE seq = 3"))
    conn.execute(sa.text("UPDATE audit_event SET seq = 3 WHERE seq = -2"))


def _shift(conn: Connection, from_seq: int, by: int) -> None:
    # Two steps through negative numbers, so that no intermediate state collides on the primary key.
    conn.execute(sa.text("UPDATE audit_event SET seq = -seq WHERE seq >= :s"), {"s": from_seq})
    conn.execute(sa.text("UPDATE audit_event SET seq = -seq + :by WHERE seq < 0"), {"by": by})


def _rehash(conn: Connection, seq: int, prev_hash: str, **changes: object) -> str:
    """Rewrite row ``seq`` with a correctly recomputed hash: an attacker who knows the algorithm."""
    table = AuditEvent.__table__  # typed columns: datetimes and JSON come back as Python values
    row = conn.execute(sa.select(table).where(table.c.seq == seq)).one()._asdict()
    row.update(changes, seq=seq, prev_hash=prev_hash)
    fields = {k: row[k] for k in ("seq", "created_at", "actor", "action", "resource_type", "resource_id",
                                  "detail", "prev_hash")}
    digest = row_hash(**fields)  # type: ignore[arg-type]
    conn.execute(sa.text("UPDATE audit_event SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                 {"a": row["actor"], "p": prev_hash, "h": digest, "s": seq})
    return digest


def _hash_of(conn: Connection, seq: int) -> str:
    return conn.execute(sa.text("SELECT hash FROM audit_event WHERE seq = :s"), {"s": seq}).scalar_one()


def _reorder_and_rehash(conn: Connection) -> None:
    """Swap rows 2 and 3 and fix up both rows' hashes; row 4 still points at the old row 3."""
    _swap_rows(conn)
    new2 = _rehash(conn, 2, _hash_of(conn, 1))
    _rehash(conn, 3, new2)


def _rewrite_and_rehash(conn: Connection) -> None:
    """Edit row 2's actor and recompute its hash: row 3's prev_hash no longer matches."""
    _rehash(conn, 2, _hash_of(conn, 1), actor="user:mallory")


def _insert_forged(conn: Connection) -> None:
    """Slip a correctly hashed row in at position 3, moving the later rows up by one."""
    _shift(conn, 3, 1)
    table = AuditEvent.__table__
    created = conn.execute(sa.select(table.c.created_at).where(table.c.seq == 2)).scalar_one()
    prev = _hash_of(conn, 2)
    fields = {"seq": 3, "created_at": created, "actor": "user:mallory", "action": "report.sign",
              "resource_type": "report", "resource_id": "rep-x", "detail": None, "prev_hash": prev}
    conn.execute(sa.text(
        "INSERT INTO audit_event (seq, created_at, actor, action, resource_type, resource_id, detail, "
        "prev_hash, hash) VALUES (:seq, :created_at, :actor, :action, :resource_type, :resource_id, NULL, "
        ":prev_hash, :h)"),
        fields | {"h": row_hash(**fields)})  # type: ignore[arg-type]


def _delete_and_renumber(conn: Connection) -> None:
    conn.execute(sa.text("DELETE FROM audit_event WHERE seq = 2"))
    _shift(conn, 3, -1)


TAMPER_CASES: list[tuple[str, Callable[[Connection], None], int | None, str]] = [
    ("edit actor", lambda c: c.execute(sa.text("UPDATE audit_event SET actor = 'user:x' WHERE seq = 3")),
     3, "row edited"),
    ("edit resource id", lambda c: c.execute(sa.text("UPDATE audit_event SET resource_id = 'r' WHERE seq=1")),
     1, "row edited"),
    ("edit detail", lambda c: c.execute(sa.text("UPDATE audit_event SET detail = NULL WHERE seq = 4")),
     4, "row edited"),
    ("edit timestamp", lambda c: c.execute(sa.text(
        "UPDATE audit_event SET created_at = :t WHERE seq = 2"), {"t": datetime(2001, 1, 1)}),
     2, "row edited"),
    ("edit stored hash", lambda c: c.execute(sa.text("UPDATE audit_event SET hash = :h WHERE seq = 5"),
                                             {"h": "a" * 64}), 5, "row edited"),
    ("delete middle row", lambda c: c.execute(sa.text("DELETE FROM audit_event WHERE seq = 3")),
     4, "deleted or renumbered"),
    ("delete first row", lambda c: c.execute(sa.text("DELETE FROM audit_event WHERE seq = 1")),
     2, "deleted or renumbered"),
    ("delete last row", lambda c: c.execute(sa.text("DELETE FROM audit_event WHERE seq = 5")),
     5, "deleted from the end"),
    ("delete and renumber", _delete_and_renumber, 2, "prev_hash"),
    ("reorder rows (swap seq)", _swap_rows, 2, "prev_hash"),
    ("reorder rows and recompute their hashes", _reorder_and_rehash, 4, "prev_hash"),
    ("edit row and recompute its hash", _rewrite_and_rehash, 3, "prev_hash"),
    ("insert correctly hashed row", _insert_forged, 4, "prev_hash"),
    ("rewind head", lambda c: c.execute(sa.text("UPDATE audit_head SET last_seq = 4")),
     5, "beyond the head"),
    ("edit head hash", lambda c: c.execute(sa.text("UPDATE audit_head SET last_hash = :h"), {"h": "b" * 64}),
     None, "head edited"),
]


def test_record_and_verify_intact_chain(database_url: str) -> None:
    engine = get_engine(database_url)
    _append(engine, 3)
    _append(engine, 2)
    with session_scope(engine) as session:
        result = verify(session)
        rows = session.execute(sa.text("SELECT seq, prev_hash, hash FROM audit_event ORDER BY seq")).all()
    assert result.ok, result.summary()
    assert (result.checked, result.head_seq) == (5, 5)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == "0" * 64
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, 5))
    assert result.head_hash == rows[-1].hash


@pytest.mark.parametrize(("name", "tamper", "bad_seq", "reason"), TAMPER_CASES,
                         ids=[c[0] for c in TAMPER_CASES])
def test_tampering_is_detected(database_url: str, name: str, tamper: Callable[[Connection], None],
                               bad_seq: int | None, reason: str) -> None:
    engine = get_engine(database_url)
    _append(engine, 5)
    with engine.begin() as conn:
        _drop_guards(conn)
        tamper(conn)
    with session_scope(engine) as session:
        result = verify(session)
    assert not result.ok, f"{name} went unnoticed"
    assert result.bad_seq == bad_seq, result.summary()
    assert reason in (result.reason or ""), result.summary()


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET actor = 'x' WHERE seq = 1",
                                       "DELETE FROM audit_event WHERE seq = 1"])
def test_database_refuses_update_and_delete(database_url: str, statement: str) -> None:
    engine = get_engine(database_url)
    _append(engine, 2)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text(statement))
    with session_scope(engine) as session:
        assert verify(session).ok


def _create_action_table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE signed_thing (id INTEGER PRIMARY KEY, note VARCHAR(20))"))


def _break_by_dropping_table(engine: Engine) -> dict:
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE audit_event"))
    return {}


def _break_by_deleting_head(engine: Engine) -> dict:
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_head"))
    return {}


FAILING_AUDITS: list[tuple[str, Callable[[Engine], dict], str]] = [
    ("audit table gone", _break_by_dropping_table, "audit write failed"),
    ("chain head missing", _break_by_deleting_head, "head row is missing"),
    ("detail not JSON", lambda e: {"detail": {"when": object()}}, "not JSON-serialisable"),
    ("empty actor", lambda e: {"actor": " "}, "actor must be a non-empty string"),
]


@pytest.mark.parametrize(("name", "breaker", "message"), FAILING_AUDITS, ids=[c[0] for c in FAILING_AUDITS])
def test_action_rolls_back_when_its_audit_write_fails(
        database_url: str, name: str, breaker: Callable[[Engine], dict], message: str) -> None:
    engine = get_engine(database_url)
    _create_action_table(engine)
    overrides = breaker(engine)
    kwargs = {"actor": "user:r1", "action": "report.sign", "resource_type": "report", "resource_id": "1",
              "detail": None} | overrides
    with pytest.raises(AuditError, match=message), session_scope(engine) as session:
        session.execute(sa.text("INSERT INTO signed_thing (id, note) VALUES (1, 'signed')"))
        record(session, **kwargs)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM signed_thing")).scalar_one() == 0


def test_audit_row_rolls_back_with_its_action(database_url: str) -> None:
    engine = get_engine(database_url)
    _append(engine, 1)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        record(session, actor="user:r1", action="report.sign", resource_type="report", resource_id="9")
        raise RuntimeError("the action failed after auditing")
    _append(engine, 1)
    with session_scope(engine) as session:
        result = verify(session)
    assert result.ok and result.checked == 2, result.summary()


def test_concurrent_writers_keep_one_chain(database_url: str) -> None:
    """Six threads, each appending in its own transactions: no collision, no gap, one valid chain."""
    engine = get_engine(database_url)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(8):
                with session_scope(engine) as session:
                    record(session, actor=f"user:{n}", action="study.view", resource_type="study",
                           resource_id=f"{n}.{i}")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with session_scope(engine) as session:
        result = verify(session)
    assert result.ok and result.checked == 48, result.summary()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "medvlm", "audit", "verify", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_cli_verify_exits_1_naming_the_first_broken_row(tmp_path: Path) -> None:
    from medvlm.db import migrate

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    migrate(url)
    engine = get_engine(url)
    _append(engine, 4)
    ok = _cli("--database-url", url)
    assert ok.returncode == 0, ok.stderr
    assert "intact: 4 rows" in ok.stdout
    with engine.begin() as conn:
        _drop_guards(conn)
        conn.execute(sa.text("UPDATE audit_event SET action = 'report.delete' WHERE seq = 2"))
    broken = _cli("--database-url", url)
    assert broken.returncode == 1
    assert broken.stderr.strip().splitlines()[-1].startswith("error: audit chain broken at row 2: ")


def test_cli_verify_on_unmigrated_database_is_one_line_error(tmp_path: Path) -> None:
    result = _cli("--database-url", f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: cannot read the audit trail: OperationalError: no such table: "
                                     "audit_head (is the database migrated?)")
