"""Append to the hash-chained audit trail, in the caller's transaction.

``record`` writes in the caller's session and transaction: when the action's transaction rolls back, its
audit row goes with it, and when the audit write fails, the error propagates and the caller's transaction
(``session_scope``) rolls the action back. Nothing is committed here. ``record_at_commit`` checks its
arguments at once but writes the row just before the session commits (a ``before_commit`` hook): the
lane's head lock is then held only for the last statement and the commit, not for the rest of the
request; a failed write still makes the commit, and so the action, fail.

The trail is ``LANES`` chains (``tables``). A transaction appends to one lane: its preferred lane (a hash
of process and thread, so one worker keeps to one lane) or, on PostgreSQL, the next lane whose head is not
locked by another transaction (``FOR UPDATE SKIP LOCKED``); only if all are busy does it wait for its
preferred lane. Under READ COMMITTED a locked head row is re-read at its latest committed version, so
positions never collide. On PostgreSQL taking a free head, hashing the row, inserting it and moving the
head is one statement (one round trip per audited request); the database hashes the canonical JSON that
Python escaped, adding only the lane, position and previous hash. On SQLite the database write lock
serialises writers anyway.

Each row's hash is sha256 over the canonical JSON (sorted keys, no spaces, UTF-8) of its fields, including
its lane position and the previous row's hash; lane 0 rows omit the lane (they are hashed exactly as the
single chain before migration 0006 was, so older rows and published head hashes stay valid).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from medvlm.compliance.audit.tables import LANES, AuditEvent, AuditHead
from medvlm.compliance.errors import AuditError

_event = AuditEvent.__table__  # type: ignore[attr-defined]
_head = AuditHead.__table__  # type: ignore[attr-defined]
_PENDING = "medvlm.compliance.audit.pending"


def _canonical_time(value: datetime) -> str:
    """Naive UTC with microseconds: what both SQLite and PostgreSQL give back unchanged."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def row_hash(*, seq: int, created_at: datetime, actor: str, action: str, resource_type: str,
             resource_id: str, detail: dict[str, Any] | None, prev_hash: str, lane: int = 0) -> str:
    """``seq`` is the row's position in its lane (``lane_seq``)."""
    payload: dict[str, Any] = {
        "seq": seq, "created_at": _canonical_time(created_at), "actor": actor, "action": action,
        "resource_type": resource_type, "resource_id": resource_id, "detail": detail, "prev_hash": prev_hash,
    }
    if lane:
        payload["lane"] = lane
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def db_message(exc: SQLAlchemyError) -> str:
    """The driver's own error in one line (e.g. ``OperationalError: no such table: audit_head``)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines() or [""]
    return f"{type(cause).__name__}: {lines[0]}"


def _check_text(name: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AuditError(f"audit {name} must be a non-empty string, got {value!r}")
    if len(value) > limit:
        raise AuditError(f"audit {name} is {len(value)} characters; at most {limit} allowed")
    return value


def _check_detail(detail: dict[str, Any] | None) -> dict[str, Any] | None:
    if detail is None:
        return None
    if not isinstance(detail, dict):
        raise AuditError(f"audit detail must be a JSON object (dict) or None, got {type(detail).__name__}")
    try:
        # Round-trip so that what is hashed is exactly what the JSON column gives back later.
        return json.loads(canonical_json(detail))
    except (TypeError, ValueError) as exc:
        raise AuditError(f"audit detail is not JSON-serialisable: {exc}") from exc


def _checked(actor: str, action: str, resource_type: str, resource_id: str,
             detail: dict[str, Any] | None) -> dict[str, Any]:
    return {"actor": _check_text("actor", actor, 255), "action": _check_text("action", action, 100),
            "resource_type": _check_text("resource_type", resource_type, 64),
            "resource_id": _check_text("resource_id", str(resource_id), 255), "detail": _check_detail(detail)}


def preferred_lane() -> int:
    return zlib.crc32(f"{os.getpid()}:{threading.get_ident()}".encode()) % LANES


_MISSING = AuditError("the audit chain head row is missing: run `medvlm` migrations (0006_audit_lanes)")


# Statements built once: building and cache-keying them again on every audited request cost more CPU than
# PostgreSQL spent running them. Parameters are bound per call.
_EVENT_FIELDS = ("actor", "action", "resource_type", "resource_id", "detail", "lane", "lane_seq",
                 "created_at", "prev_hash", "hash")
# Bound names carry a prefix: SQLAlchemy reserves a column's own name for its VALUES / SET parameter.
_INSERT_EVENT_ID = sa.insert(_event).values(
    {name: sa.bindparam(f"e_{name}", type_=_event.c[name].type) for name in _EVENT_FIELDS}
).returning(_event.c.id)
_MOVE_HEAD = (sa.update(_head).where(_head.c.lane == sa.bindparam("e_lane"))
              .values(last_seq=sa.bindparam("e_lane_seq"), last_hash=sa.bindparam("e_hash")))
# SQLite: the UPDATE takes the database write lock before the head is read.
_CLAIM_NEXT_SQLITE = (sa.update(_head).where(_head.c.lane == sa.bindparam("preferred"))
                      .values(last_seq=_head.c.last_seq + 1).returning(_head.c.last_seq, _head.c.last_hash))


def _hashed_document_parts(fields: dict[str, Any], created_at: datetime) -> tuple[str, str]:
    """The row's canonical JSON around the keys only the database knows (lane, prev_hash, seq).

    The keys sort as action, actor, created_at, detail | lane, prev_hash | resource_id, resource_type |
    seq, so the document is ``before + [,"lane":L] + ,"prev_hash":"H", + after + ,"seq":N}``: every string
    is escaped here, by the same ``canonical_json`` that ``verify`` uses; the database adds only integers
    and a hex hash.
    """
    before = canonical_json({"action": fields["action"], "actor": fields["actor"],
                             "created_at": _canonical_time(created_at), "detail": fields["detail"]})
    after = canonical_json({"resource_id": fields["resource_id"], "resource_type": fields["resource_type"]})
    return before[:-1], after[1:-1]


# PostgreSQL, one statement (one round trip, atomic even outside a transaction): lock a lane head, hash
# the row with the lane's position and last hash (sha256 over the document of ``_hashed_document_parts``:
# exactly ``row_hash``), insert it and move the head. Under READ COMMITTED the locked head is returned at
# its latest committed version, and the UPDATE follows it there.
_APPEND_PG_TEMPLATE = """
WITH head AS (
    SELECT lane, last_seq + 1 AS seq, last_hash FROM audit_head {lock}
), hashed AS (
    SELECT lane, seq, last_hash, encode(sha256(convert_to(
        :doc_before || CASE WHEN lane = 0 THEN '' ELSE ',"lane":' || lane END
        || ',"prev_hash":' || to_json(last_hash)::text || ',' || :doc_after || ',"seq":' || seq || '}}',
        'UTF8')), 'hex') AS hash
    FROM head
), inserted AS (
    INSERT INTO audit_event
        (actor, action, resource_type, resource_id, detail, lane, lane_seq, created_at, prev_hash, hash)
    SELECT :e_actor, :e_action, :e_resource_type, :e_resource_id, :e_detail, lane, seq, :e_created_at,
           last_hash, hash FROM hashed
    RETURNING id, lane, lane_seq, prev_hash, hash
), moved AS (
    UPDATE audit_head SET last_seq = inserted.lane_seq, last_hash = inserted.hash
    FROM inserted WHERE audit_head.lane = inserted.lane
)
SELECT id, lane, lane_seq, prev_hash, hash FROM inserted
"""


def _append_statement(lock: str) -> sa.TextClause:
    return sa.text(_APPEND_PG_TEMPLATE.format(lock=lock)).bindparams(
        sa.bindparam("e_detail", type_=_event.c.detail.type),
        sa.bindparam("e_created_at", type_=_event.c.created_at.type))


# The first head no other transaction holds, starting at the preferred lane; none back means all are held.
_APPEND_PG_FREE_LANE = _append_statement(
    f"ORDER BY (lane + ({LANES} - :preferred)) % {LANES} LIMIT 1 FOR UPDATE SKIP LOCKED")
# Every head was held: queue on the preferred lane.
_APPEND_PG_PREFERRED_LANE = _append_statement("WHERE lane = :preferred FOR UPDATE")


def _append_pg(connection: sa.Connection, fields: dict[str, Any], created_at: datetime) -> dict[str, Any]:
    doc_before, doc_after = _hashed_document_parts(fields, created_at)
    params = {f"e_{name}": value for name, value in fields.items()} | {
        "preferred": preferred_lane(), "doc_before": doc_before, "doc_after": doc_after,
        "e_created_at": created_at}
    row = connection.execute(_APPEND_PG_FREE_LANE, params).first()
    if row is None:
        row = connection.execute(_APPEND_PG_PREFERRED_LANE, params).first()
    if row is None:
        raise _MISSING
    return fields | {"id": row[0], "lane": row[1], "lane_seq": row[2], "created_at": created_at,
                     "prev_hash": row[3], "hash": row[4]}


def _append(session: Session, fields: dict[str, Any]) -> dict[str, Any]:
    # Core statements on the session's connection (same transaction): the ORM adds nothing here.
    connection = session.connection()
    created_at = datetime.now(UTC).replace(tzinfo=None)
    if connection.dialect.name == "postgresql":
        return _append_pg(connection, fields, created_at)
    lane = preferred_lane()
    row = connection.execute(_CLAIM_NEXT_SQLITE, {"preferred": lane}).first()
    if row is None:
        raise _MISSING
    seq, prev_hash = int(row[0]), str(row[1])
    values = fields | {"lane": lane, "lane_seq": seq, "created_at": created_at, "prev_hash": prev_hash}
    values["hash"] = row_hash(seq=seq, created_at=created_at, prev_hash=prev_hash, lane=lane, **fields)
    params = {f"e_{name}": values[name] for name in _EVENT_FIELDS}
    values["id"] = connection.execute(_INSERT_EVENT_ID, params).scalar_one()
    connection.execute(_MOVE_HEAD, params)
    return values


def _write(session: Session, fields: dict[str, Any]) -> dict[str, Any]:
    try:
        return _append(session, fields)
    except SQLAlchemyError as exc:
        raise AuditError(f"audit write failed for {fields['action']} on {fields['resource_type']} "
                         f"{fields['resource_id']}: {db_message(exc)}") from exc


def record(session: Session, *, actor: str, action: str, resource_type: str, resource_id: str,
           detail: dict[str, Any] | None = None) -> AuditEvent:
    """Append one chained audit row in the caller's transaction now and return it (not committed).

    Raises ``AuditError`` for invalid arguments or a failed write; the caller must then roll back its
    transaction (``session_scope`` does), so that the audited action does not happen unaudited.
    """
    return AuditEvent(**_write(session, _checked(actor, action, resource_type, resource_id, detail)))


def append(session: Session, *, actor: str, action: str, resource_type: str, resource_id: str,
           detail: dict[str, Any] | None = None) -> None:
    """``record`` without building the row's ORM object (a request that only needs the row written)."""
    _write(session, _checked(actor, action, resource_type, resource_id, detail))


def record_at_commit(session: Session, *, actor: str, action: str, resource_type: str, resource_id: str,
                     detail: dict[str, Any] | None = None,
                     writer: Callable[..., object] | None = None) -> None:
    """Check the row now (``AuditError`` at once) and append it as the transaction's last statements.

    ``writer`` (default ``record``) is called as ``writer(session, **fields)`` at commit. A write that
    fails raises out of ``session.commit()``, and the transaction rolls back. Rows the session never
    commits are never written, like the rest of its transaction.
    """
    fields = _checked(actor, action, resource_type, resource_id, detail)
    session.info.setdefault(_PENDING, []).append((fields, writer or record))


# Listeners on the Session class, once: listening on each session instance built a dispatcher per request.
@event.listens_for(OrmSession, "before_commit")
def _flush_pending(session: OrmSession) -> None:
    pending: list[tuple[dict[str, Any], Callable[..., object]]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()  # the action's own pending ORM changes go first, so the lane lock is taken last
    for fields, writer in pending:
        writer(session, **fields)


@event.listens_for(OrmSession, "after_rollback")
def _drop_pending(session: OrmSession) -> None:
    session.info.pop(_PENDING, None)
