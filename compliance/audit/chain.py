"""Append to and verify the hash-chained audit trail.

``record`` writes in the caller's session and transaction: when the action's transaction rolls back, its
audit row goes with it, and when the audit write fails, the error propagates and the caller's transaction
(``session_scope``) rolls the action back. Nothing is committed here.

Each row's hash is sha256 over the canonical JSON (sorted keys, no spaces, UTF-8) of its fields, including
its sequence number and the previous row's hash. Appending first bumps the single ``audit_head`` row: on
PostgreSQL that row lock makes concurrent writers wait for each other and, under READ COMMITTED, the
waiting UPDATE continues from the committed head, so sequence numbers never collide; on SQLite the UPDATE
takes the database write lock. Anyone able to rewrite every row *and* the head can forge a consistent
chain; publishing the head hash elsewhere (``VerifyResult.head_hash``) is the defence against that.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from compliance.audit.tables import GENESIS_HASH, HEAD_ID, AuditEvent, AuditHead
from compliance.errors import AuditError

_event = AuditEvent.__table__  # type: ignore[attr-defined]
_head = AuditHead.__table__  # type: ignore[attr-defined]


def _canonical_time(value: datetime) -> str:
    """Naive UTC with microseconds: what both SQLite and PostgreSQL give back unchanged."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def row_hash(*, seq: int, created_at: datetime, actor: str, action: str, resource_type: str,
             resource_id: str, detail: dict[str, Any] | None, prev_hash: str) -> str:
    payload = {
        "seq": seq, "created_at": _canonical_time(created_at), "actor": actor, "action": action,
        "resource_type": resource_type, "resource_id": resource_id, "detail": detail, "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def _db_message(exc: SQLAlchemyError) -> str:
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


def record(session: Session, *, actor: str, action: str, resource_type: str, resource_id: str,
           detail: dict[str, Any] | None = None) -> AuditEvent:
    """Append one chained audit row in the caller's transaction and return it (flushed, not committed).

    Raises ``AuditError`` for invalid arguments or a failed write; the caller must then roll back its
    transaction (``session_scope`` does), so that the audited action does not happen unaudited.
    """
    actor = _check_text("actor", actor, 255)
    action = _check_text("action", action, 100)
    resource_type = _check_text("resource_type", resource_type, 64)
    resource_id = _check_text("resource_id", str(resource_id), 255)
    detail = _check_detail(detail)
    try:
        bumped = cast(CursorResult[Any], session.execute(
            sa.update(_head).where(_head.c.id == HEAD_ID).values(last_seq=_head.c.last_seq + 1)))
        if bumped.rowcount != 1:
            raise AuditError("the audit chain head row is missing: run `medvlm` migrations (0004_audit)")
        seq, prev_hash = session.execute(
            sa.select(_head.c.last_seq, _head.c.last_hash).where(_head.c.id == HEAD_ID)).one()
        created_at = datetime.now(UTC).replace(tzinfo=None)
        digest = row_hash(seq=seq, created_at=created_at, actor=actor, action=action,
                          resource_type=resource_type, resource_id=resource_id, detail=detail,
                          prev_hash=prev_hash)
        values = {"seq": seq, "created_at": created_at, "actor": actor, "action": action,
                  "resource_type": resource_type, "resource_id": resource_id, "detail": detail,
                  "prev_hash": prev_hash, "hash": digest}
        session.execute(sa.insert(_event).values(**values))
        session.execute(sa.update(_head).where(_head.c.id == HEAD_ID).values(last_hash=digest))
    except SQLAlchemyError as exc:
        raise AuditError(f"audit write failed for {action} on {resource_type} {resource_id}: "
                         f"{_db_message(exc)}") from exc
    return AuditEvent(**values)


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of ``verify``: ``ok`` or the first broken row (``bad_seq``) and why."""

    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    reason: str | None = None

    def summary(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} rows, head {self.head_seq} {self.head_hash}"
        where = f"row {self.bad_seq}" if self.bad_seq is not None else "chain head"
        return f"audit chain broken at {where}: {self.reason} ({self.checked} rows checked)"


def verify(session: Session, *, batch_size: int = 5000) -> VerifyResult:
    """Walk the chain in sequence order and report the first row that breaks it (see ``_verify``).

    Raises ``AuditError`` when the audit tables cannot be read at all (e.g. an unmigrated database).
    """
    try:
        return _verify(session, batch_size)
    except SQLAlchemyError as exc:
        raise AuditError(
            f"cannot read the audit trail: {_db_message(exc)} (is the database migrated?)") from exc


def _verify(session: Session, batch_size: int) -> VerifyResult:
    """Detects an edited row (its hash no longer matches its content), a deleted row (a gap in the sequence,
    or a head that points past the last row), a reordered row (sequence numbers are hashed, so moving a
    row changes its hash or leaves its ``prev_hash`` pointing at the wrong neighbour) and an inserted row.
    """
    head_query = sa.select(_head.c.last_seq, _head.c.last_hash).where(_head.c.id == HEAD_ID)
    head = session.execute(head_query).first()
    if head is None:
        return VerifyResult(False, 0, 0, GENESIS_HASH, None, "the audit_head row is missing")
    head_seq, head_hash = int(head[0]), str(head[1])
    expected_seq, prev_hash, checked, last_seq = 1, GENESIS_HASH, 0, 0

    def broken(seq: int | None, reason: str) -> VerifyResult:
        return VerifyResult(False, checked, head_seq, head_hash, seq, reason)

    while True:
        rows = session.execute(
            sa.select(_event).where(_event.c.seq > last_seq).order_by(_event.c.seq).limit(batch_size)).all()
        if not rows:
            break
        for row in rows:
            if row.seq != expected_seq:
                return broken(row.seq, f"expected sequence number {expected_seq}, found {row.seq} "
                                       f"(row {expected_seq} was deleted or renumbered)")
            if row.prev_hash != prev_hash:
                return broken(row.seq, "prev_hash does not match the previous row's hash "
                                       "(rows reordered, replaced or inserted)")
            digest = row_hash(seq=row.seq, created_at=row.created_at, actor=row.actor, action=row.action,
                              resource_type=row.resource_type, resource_id=row.resource_id,
                              detail=row.detail, prev_hash=row.prev_hash)
            if digest != row.hash:
                return broken(row.seq, "content does not match its hash (row edited)")
            prev_hash, expected_seq, last_seq = row.hash, expected_seq + 1, row.seq
            checked += 1
    if checked < head_seq:
        return broken(checked + 1, f"the head records {head_seq} rows, the table ends at row {checked} "
                                   "(rows deleted from the end)")
    if checked > head_seq:
        return broken(head_seq + 1, f"rows beyond the head's last row {head_seq} "
                                    "(appended without the head, or head rewound)")
    if prev_hash != head_hash:
        return broken(None, "the head hash does not match the last row (head edited)")
    return VerifyResult(True, checked, head_seq, head_hash)
