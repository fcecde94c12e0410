"""The hash-chained audit trail on SQLite and PostgreSQL: append, verify, catch every kind of tampering."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from medvlm.compliance.audit import LANES, AuditEvent, record, record_at_commit, verify
from medvlm.compliance.audit.chain import row_hash
from medvlm.compliance.audit.tables import GENESIS_HASH
from medvlm.compliance.errors import AuditError
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
    # Swap the positions of rows 2 and 3 (lane_seq is the order of a lane).
    conn.execute(sa.text("UPDATE audit_event SET lane_seq = -2 WHERE lane_seq = 2"))
    conn.execute(sa.text("UPDATE audit_event SET lane_seq = 2 WHERE lane_seq = 3"))
    conn.execute(sa.text("UPDATE audit_event SET lane_seq = 3 WHERE lane_seq = -2"))


def _swap_ids(conn: Connection) -> None:
    # Swap the display order of rows 2 and 3 only (the id is not hashed, its order along the lane is checked).
    id2, id3 = (conn.execute(sa.text("SELECT id FROM audit_event WHERE lane_seq = :s"), {"s": s}).scalar_one()
                for s in (2, 3))
    conn.execute(sa.text("UPDATE audit_event SET id = -1 WHERE lane_seq = 2"))
    conn.execute(sa.text("UPDATE audit_event SET id = :i WHERE lane_seq = 3"), {"i": id2})
    conn.execute(sa.text("UPDATE audit_event SET id = :i WHERE lane_seq = 2"), {"i": id3})


def _shift(conn: Connection, from_seq: int, by: int) -> None:
    # Two steps through negative numbers, so that no intermediate state collides on the unique key.
    conn.execute(sa.text("UPDATE audit_event SET lane_seq = -lane_seq WHERE lane_seq >= :s"), {"s": from_seq})
    conn.execute(sa.text("UPDATE audit_event SET lane_seq = -lane_seq + :by WHERE lane_seq < 0"), {"by": by})


def _lane_of_rows(conn: Connection) -> int:
    return conn.execute(sa.text("SELECT DISTINCT lane FROM audit_event")).scalar_one()


def _move_to_other_lane(conn: Connection) -> None:
    """Move the whole chain to an unused lane with a matching head: the lane is hashed."""
    lane = _lane_of_rows(conn)
    other = (lane + 1) % LANES
    seq, digest = conn.execute(sa.text("SELECT last_seq, last_hash FROM audit_head WHERE lane = :l"),
                               {"l": lane}).one()
    conn.execute(sa.text("UPDATE audit_event SET lane = :o"), {"o": other})
    conn.execute(sa.text("UPDATE audit_head SET last_seq = :s, last_hash = :h WHERE lane = :o"),
                 {"s": seq, "h": digest, "o": other})
    conn.execute(sa.text("UPDATE audit_head SET last_seq = 0, last_hash = :g WHERE lane = :l"),
                 {"g": GENESIS_HASH, "l": lane})


def _rehash(conn: Connection, seq: int, prev_hash: str, **changes: object) -> str:
    """Rewrite row ``seq`` with a correctly recomputed hash: an attacker who knows the algorithm."""
    table = AuditEvent.__table__  # typed columns: datetimes and JSON come back as Python values
    row = conn.execute(sa.select(table).where(table.c.lane_seq == seq)).one()._asdict()
    row.update(changes, seq=seq, prev_hash=prev_hash)
    fields = {k: row[k] for k in ("seq", "lane", "created_at", "actor", "action", "resource_type",
                                  "resource_id", "detail", "prev_hash")}
    digest = row_hash(**fields)  # type: ignore[arg-type]
    conn.execute(sa.text("UPDATE audit_event SET actor = :a, prev_hash = :p, hash = :h WHERE lane_seq = :s"),
                 {"a": row["actor"], "p": prev_hash, "h": digest, "s": seq})
    return digest


def _hash_of(conn: Connection, seq: int) -> str:
    return conn.execute(sa.text("SELECT hash FROM audit_event WHERE lane_seq = :s"), {"s": seq}).scalar_one()


def _reorder_and_rehash(conn: Connection) -> None:
    """Swap rows 2 and 3, their ids too, and fix up both rows' hashes; row 4 still points at the old row 3."""
    _swap_rows(conn)
    _swap_ids(conn)
    new2 = _rehash(conn, 2, _hash_of(conn, 1))
    _rehash(conn, 3, new2)


def _rewrite_and_rehash(conn: Connection) -> None:
    """Edit row 2's actor and recompute its hash: row 3's prev_hash no longer matches."""
    _rehash(conn, 2, _hash_of(conn, 1), actor="user:mallory")


def _insert_forged(conn: Connection) -> None:
    """Slip a correctly hashed row in at position 3, moving the later rows up by one."""
    _shift(conn, 3, 1)
    table = AuditEvent.__table__
    created, lane, id2 = conn.execute(
        sa.select(table.c.created_at, table.c.lane, table.c.id).where(table.c.lane_seq == 2)).one()
    prev = _hash_of(conn, 2)
    fields = {"seq": 3, "lane": lane, "created_at": created, "actor": "user:mallory", "action": "report.sign",
              "resource_type": "report", "resource_id": "rep-x", "detail": None, "prev_hash": prev}
    conn.execute(sa.text(
        "INSERT INTO audit_event (id, lane, lane_seq, created_at, actor, action, resource_type, resource_id, "
        "detail, prev_hash, hash) VALUES (:id, :lane, :seq, :created_at, :actor, :action, :resource_type, "
        ":resource_id, NULL, :prev_hash, :h)"),
        fields | {"h": row_hash(**fields), "id": id2 + 1000})  # type: ignore[arg-type]


def _delete_and_renumber(conn: Connection) -> None:
    conn.execute(sa.text("DELETE FROM audit_event WHERE lane_seq = 2"))
    _shift(conn, 3, -1)


TAMPER_CASES: list[tuple[str, Callable[[Connection], None], int | None, str]] = [
    ("edit actor", lambda c: c.execute(sa.text("UPDATE audit_event SET actor = 'user:x' WHERE lane_seq = 3")),
     3, "row edited"),
    ("edit resource id", lambda c: c.execute(sa.text(
        "UPDATE audit_event SET resource_id = 'r' WHERE lane_seq = 1")),
     1, "row edited"),
    ("edit detail", lambda c: c.execute(sa.text("UPDATE audit_event SET detail = NULL WHERE lane_seq = 4")),
     4, "row edited"),
    ("edit timestamp", lambda c: c.execute(sa.text(
        "UPDATE audit_event SET created_at = :t WHERE lane_seq = 2"), {"t": datetime(2001, 1, 1)}),
     2, "row edited"),
    ("edit stored hash", lambda c: c.execute(sa.text("UPDATE audit_event SET hash = :h WHERE lane_seq = 5"),
                                             {"h": "a" * 64}), 5, "row edited"),
    ("delete middle row", lambda c: c.execute(sa.text("DELETE FROM audit_event WHERE lane_seq = 3")),
     4, "deleted or renumbered"),
    ("delete first row", lambda c: c.execute(sa.text("DELETE FROM audit_event WHERE lane_seq = 1")),
     2, "deleted or renumbered"),
    ("delete last row", lambda c: c.execute(sa.text("DELETE FROM audit_event WHERE lane_seq = 5")),
     5, "deleted from the end"),
    ("delete and renumber", _delete_and_renumber, 2, "prev_hash"),
    ("reorder rows (swap seq)", _swap_rows, 2, "prev_hash"),
    ("reorder rows and recompute their hashes", _reorder_and_rehash, 4, "prev_hash"),
    ("edit row and recompute its hash", _rewrite_and_rehash, 3, "prev_hash"),
    ("insert correctly hashed row", _insert_forged, 4, "prev_hash"),
    ("rewind head", lambda c: c.execute(sa.text("UPDATE audit_head SET last_seq = 4 WHERE last_seq = 5")),
     5, "beyond the head"),
    ("edit head hash", lambda c: c.execute(sa.text("UPDATE audit_head SET last_hash = :h WHERE last_seq = 5"),
                                           {"h": "b" * 64}), None, "head edited"),
    ("swap display ids", _swap_ids, 3, "rows reordered"),
    ("move rows to another lane", _move_to_other_lane, 1, "moved from another lane"),
    ("delete the lane's head", lambda c: c.execute(sa.text("DELETE FROM audit_head WHERE last_seq = 5")),
     1, "no head"),
    ("delete every row of the lane", lambda c: c.execute(sa.text("DELETE FROM audit_event")),
     1, "deleted from the end"),
]


def test_record_and_verify_intact_chain(database_url: str) -> None:
    engine = get_engine(database_url)
    _append(engine, 3)
    _append(engine, 2)
    with session_scope(engine) as session:
        result = verify(session)
        rows = session.execute(sa.text(
            "SELECT lane, lane_seq, prev_hash, hash FROM audit_event ORDER BY id")).all()
    assert result.ok, result.summary()
    assert (result.checked, result.head_seq) == (5, 5)
    assert [r.lane_seq for r in rows] == [1, 2, 3, 4, 5]
    assert len({r.lane for r in rows}) == 1  # one thread keeps to its lane
    assert rows[0].prev_hash == "0" * 64
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, 5))
    with session_scope(engine) as session:
        heads = session.execute(sa.text("SELECT last_hash FROM audit_head WHERE lane = :l"),
                                {"l": rows[0].lane}).scalar_one()
    assert heads == rows[-1].hash


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


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET actor = 'x' WHERE lane_seq = 1",
                                       "DELETE FROM audit_event WHERE lane_seq = 1"])
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


def _append_from_threads(engine: Engine, *, threads: int, rows_each: int) -> None:
    """``threads`` threads, each appending ``rows_each`` rows in transactions of their own; no errors."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(rows_each):
                with session_scope(engine) as session:
                    record(session, actor=f"user:{n}", action="study.view", resource_type="study",
                           resource_id=f"{n}.{i}")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    started = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()
    assert not errors, errors


def test_concurrent_writers_keep_one_chain(database_url: str) -> None:
    """Six threads, each appending in its own transactions: no collision, no gap, one valid chain."""
    engine = get_engine(database_url)
    _append_from_threads(engine, threads=6, rows_each=8)
    with session_scope(engine) as session:
        result = verify(session)
    assert result.ok and result.checked == 48, result.summary()


@pytest.mark.postgres
def test_a_held_lane_does_not_block_other_writers(postgres_server: object,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: while one transaction holds its lane (uncommitted), another appends to the next lane."""
    from medvlm.compliance.audit import chain
    from medvlm.db import migrate

    monkeypatch.setattr(chain, "preferred_lane", lambda: 3)  # both writers want lane 3

    url = postgres_server.create_database()  # type: ignore[attr-defined]
    migrate(url)
    engine = get_engine(url)
    done = threading.Event()
    with session_scope(engine) as holder:
        held = record(holder, actor="user:a", action="study.view", resource_type="study", resource_id="1")

        def other() -> None:  # lane 3 is locked: SKIP LOCKED moves on to lane 4 instead of waiting
            with session_scope(engine) as session:
                session.execute(sa.text("SET lock_timeout = '5s'"))
                record(session, actor="user:b", action="study.view", resource_type="study", resource_id="2")
            done.set()

        worker = threading.Thread(target=other)
        worker.start()
        assert done.wait(20), "the second writer waited for the first one's lane"
        worker.join()
    with session_scope(engine) as session:
        result = verify(session)
        lanes = session.execute(sa.text("SELECT actor, lane FROM audit_event")).all()
    assert result.ok and result.checked == 2, result.summary()
    assert held.lane == 3
    assert sorted(lanes) == [("user:a", 3), ("user:b", 4)]


TRICKY_ROWS: list[dict] = [
    {"actor": 'user:o"brien\\x', "action": "report.edit", "resource_type": "report",
     "resource_id": "r/1 ü \u2028",
     "detail": {"text": 'a "quoted" \\ back\nslash', "emoji": "🩻", "n": [1, 2.5, None],
                "nested": {"z": True, "a": "é"}}},
    {"actor": "user:x", "action": "study.view", "resource_type": "study", "resource_id": "1.2.3",
     "detail": None},
    {"actor": "api_key:pacs", "action": "study.upload", "resource_type": "study", "resource_id": "9",
     "detail": {}},
]


@pytest.mark.postgres
@pytest.mark.parametrize("lane", [0, 5])
def test_hash_made_by_postgresql_is_the_python_row_hash(postgres_server: object, lane: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL hashes the row in the appending statement: byte for byte what ``row_hash`` (and so
    ``verify``) computes, for quotes, backslashes, non-ASCII, nested detail, no detail, lane 0 and not."""
    from medvlm.compliance.audit import chain
    from medvlm.db import migrate

    monkeypatch.setattr(chain, "preferred_lane", lambda: lane)
    url = postgres_server.create_database()  # type: ignore[attr-defined]
    migrate(url)
    engine = get_engine(url)
    with session_scope(engine) as session:
        recorded = [record(session, **row) for row in TRICKY_ROWS]
    with session_scope(engine) as session:
        result = verify(session)
        stored = session.execute(sa.text("SELECT lane, lane_seq, hash FROM audit_event ORDER BY id")).all()
    assert result.ok and result.checked == len(TRICKY_ROWS), result.summary()
    for event, row in zip(recorded, stored, strict=True):
        expected = row_hash(seq=event.lane_seq, created_at=event.created_at, actor=event.actor,
                            action=event.action, resource_type=event.resource_type,
                            resource_id=event.resource_id, detail=event.detail, prev_hash=event.prev_hash,
                            lane=event.lane)
        assert (row.lane, row.lane_seq, row.hash) == (lane, event.lane_seq, expected)
        assert event.hash == expected


@pytest.mark.postgres
def test_writers_crowding_one_lane_keep_every_lane_valid(postgres_server: object,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight threads all preferring lane 7: heads are taken, skipped and re-read at their latest version
    under contention; every row lands once, in order, on a valid chain."""
    from medvlm.compliance.audit import chain
    from medvlm.db import migrate

    monkeypatch.setattr(chain, "preferred_lane", lambda: 7)
    url = postgres_server.create_database()  # type: ignore[attr-defined]
    migrate(url)
    engine = get_engine(url)
    _append_from_threads(engine, threads=8, rows_each=25)
    with session_scope(engine) as session:
        result = verify(session)
        per_lane = dict(session.execute(sa.text(
            "SELECT lane, count(*) FROM audit_event GROUP BY lane")).all())
    assert result.ok and result.checked == 200, result.summary()
    assert per_lane[7] >= 25  # the preferred lane is used first


@pytest.mark.postgres
def test_with_every_lane_held_a_writer_waits_for_its_own(postgres_server: object,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: when all ``LANES`` heads are locked by open transactions, a writer queues on its
    preferred lane and appends there once that lane's holder commits."""
    from medvlm.compliance.audit import chain
    from medvlm.db import migrate

    url = postgres_server.create_database()  # type: ignore[attr-defined]
    migrate(url)
    engine = get_engine(url)
    with ExitStack() as stack:
        holders = []
        for lane in range(LANES):
            monkeypatch.setattr(chain, "preferred_lane", lambda lane=lane: lane)
            holder = stack.enter_context(session_scope(engine))
            held = record(holder, actor=f"user:h{lane}", action="study.view", resource_type="study",
                          resource_id=str(lane))
            assert held.lane == lane
            holders.append(holder)
        monkeypatch.setattr(chain, "preferred_lane", lambda: 2)
        appended: list[AuditEvent] = []
        waiter = threading.Thread(target=lambda: appended.append(_record_one(engine)))
        waiter.start()
        waiter.join(1.0)
        assert waiter.is_alive(), "a writer appended although every lane head was locked"
        holders[2].commit()  # lane 2's holder commits: its head is free
        waiter.join(20)
        assert not waiter.is_alive() and appended[0].lane == 2 and appended[0].lane_seq == 2
    with session_scope(engine) as session:
        result = verify(session)
    assert result.ok and result.checked == LANES + 1, result.summary()


def _record_one(engine: Engine) -> AuditEvent:
    with session_scope(engine) as session:
        return record(session, actor="user:w", action="study.view", resource_type="study", resource_id="w")


def test_rows_are_written_at_commit_and_roll_back_with_the_action(database_url: str) -> None:
    engine = get_engine(database_url)
    with session_scope(engine) as session:
        record_at_commit(session, actor="user:a", action="study.list", resource_type="worklist",
                         resource_id="-")
        assert session.execute(sa.text("SELECT count(*) FROM audit_event")).scalar_one() == 0
    with pytest.raises(AuditError, match="actor must be a non-empty"), session_scope(engine) as session:
        record_at_commit(session, actor="", action="x", resource_type="y", resource_id="z")
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        record_at_commit(session, actor="user:b", action="study.list", resource_type="worklist",
                         resource_id="-")
        raise RuntimeError("the action failed")
    with session_scope(engine) as session:
        result = verify(session)
        actors = session.execute(sa.text("SELECT actor FROM audit_event")).scalars().all()
    assert result.ok and actors == ["user:a"], result.summary()


def test_failed_write_at_commit_fails_the_commit(database_url: str) -> None:
    engine = get_engine(database_url)
    _create_action_table(engine)
    _break_by_deleting_head(engine)
    with pytest.raises(AuditError, match="head row is missing"), session_scope(engine) as session:
        session.execute(sa.text("INSERT INTO signed_thing (id, note) VALUES (1, 'signed')"))
        record_at_commit(session, actor="user:a", action="report.sign", resource_type="report",
                         resource_id="1")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM signed_thing")).scalar_one() == 0


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
        conn.execute(sa.text("UPDATE audit_event SET action = 'report.delete' WHERE lane_seq = 2"))
    broken = _cli("--database-url", url)
    assert broken.returncode == 1
    lane = engine.connect().execute(sa.text("SELECT DISTINCT lane FROM audit_event")).scalar_one()
    expected = f"error: audit chain broken at lane {lane} row 2: "
    assert broken.stderr.strip().splitlines()[-1].startswith(expected)


def test_cli_verify_on_unmigrated_database_is_one_line_error(tmp_path: Path) -> None:
    result = _cli("--database-url", f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: cannot read the audit trail: OperationalError: no such table: "
                                     "audit_head (is the database migrated?)")
