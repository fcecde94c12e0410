"""Verify the audit trail: walk every lane's chain and compare it with the lane's head.

Detects an edited row (its hash no longer matches its content), a deleted row (a gap in the lane's
positions, a missing first row, or a head that points past the lane's last row), a reordered row
(positions are hashed and each row names its predecessor's hash; a row's ``id`` must also grow along its
lane), an inserted row (its ``prev_hash`` or position does not fit) and a row moved to another lane (the
lane is hashed). Anyone able to rewrite every row *and* the heads can forge consistent chains; publishing
``VerifyResult.head_hash`` (a digest of all lane heads) elsewhere is the defence against that.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from medvlm.compliance.audit.chain import canonical_json, db_message, row_hash
from medvlm.compliance.audit.tables import GENESIS_HASH, LANES, AuditEvent, AuditHead
from medvlm.compliance.errors import AuditError

_event = AuditEvent.__table__  # type: ignore[attr-defined]
_head = AuditHead.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of ``verify``: ``ok``, or the first broken row (``bad_seq`` in lane ``bad_lane``) and why.

    ``head_seq`` is the number of rows the heads record (all lanes); ``head_hash`` a digest of every
    lane's head, the one value to publish elsewhere.
    """

    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    reason: str | None = None
    bad_lane: int | None = None

    def summary(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} rows, head {self.head_seq} {self.head_hash}"
        if self.bad_seq is not None:
            where = f"lane {self.bad_lane} row {self.bad_seq}"
        else:
            where = f"lane {self.bad_lane} head" if self.bad_lane is not None else "chain head"
        return f"audit chain broken at {where}: {self.reason} ({self.checked} rows checked)"


def verify(session: Session, *, batch_size: int = 5000) -> VerifyResult:
    """Walk every lane in order and report the first row that breaks it.

    Raises ``AuditError`` when the audit tables cannot be read at all (e.g. an unmigrated database).
    """
    try:
        return _verify(session, batch_size)
    except SQLAlchemyError as exc:
        raise AuditError(
            f"cannot read the audit trail: {db_message(exc)} (is the database migrated?)") from exc


class _Broken(Exception):
    def __init__(self, lane: int | None, seq: int | None, reason: str, checked: int = 0) -> None:
        self.lane, self.seq, self.reason, self.checked = lane, seq, reason, checked


def _heads_digest(heads: dict[int, tuple[int, str]]) -> str:
    listed = [[lane, seq, digest] for lane, (seq, digest) in sorted(heads.items())]
    return hashlib.sha256(canonical_json(listed).encode("utf-8")).hexdigest()


def _verify(session: Session, batch_size: int) -> VerifyResult:
    heads = {int(r[0]): (int(r[1]), str(r[2])) for r in session.execute(
        sa.select(_head.c.lane, _head.c.last_seq, _head.c.last_hash).order_by(_head.c.lane))}
    head_seq, head_hash = sum(seq for seq, _ in heads.values()), _heads_digest(heads)
    checked = 0
    try:
        if not heads:
            raise _Broken(None, None, "the audit_head rows are missing")
        stray = session.execute(sa.select(_event.c.lane, sa.func.min(_event.c.lane_seq))
                                .where(_event.c.lane.not_in(list(heads))).group_by(_event.c.lane)
                                .order_by(_event.c.lane)).first()
        if stray is not None:
            raise _Broken(int(stray[0]), int(stray[1]), "rows in a lane that has no head (head deleted)")
        for lane in range(LANES):
            if lane not in heads:
                raise _Broken(lane, None, "the lane's head row is missing")
        for lane, (last_seq, last_hash) in heads.items():
            checked += _verify_lane(session, lane, last_seq, last_hash, batch_size)
    except _Broken as broken:
        return VerifyResult(False, checked + broken.checked, head_seq, head_hash, broken.seq, broken.reason,
                            broken.lane)
    return VerifyResult(True, checked, head_seq, head_hash)


def _verify_lane(session: Session, lane: int, head_seq: int, head_hash: str, batch_size: int) -> int:
    """The number of rows in the lane, or ``_Broken`` at its first bad row."""
    expected, prev_hash, prev_id, checked = 1, GENESIS_HASH, 0, 0

    def broken(seq: int | None, reason: str) -> _Broken:
        return _Broken(lane, seq, reason, checked)

    while True:
        rows = session.execute(sa.select(_event).where(_event.c.lane == lane, _event.c.lane_seq >= expected)
                               .order_by(_event.c.lane_seq).limit(batch_size)).all()
        if not rows:
            break
        for row in rows:
            if row.lane_seq != expected:
                raise broken(row.lane_seq, f"expected position {expected}, found {row.lane_seq} "
                                           f"(row {expected} was deleted or renumbered)")
            if row.prev_hash != prev_hash:
                raise broken(row.lane_seq, "prev_hash does not match the previous row's hash "
                                           "(rows reordered, replaced or inserted)")
            digest = row_hash(seq=row.lane_seq, created_at=row.created_at, actor=row.actor, action=row.action,
                              resource_type=row.resource_type, resource_id=row.resource_id,
                              detail=row.detail, prev_hash=row.prev_hash, lane=lane)
            if digest != row.hash:
                raise broken(row.lane_seq, "content does not match its hash (row edited or moved "
                                           "from another lane)")
            if row.id <= prev_id:
                raise broken(row.lane_seq, f"id {row.id} does not follow the previous row's id {prev_id} "
                                           "(rows reordered)")
            prev_hash, prev_id, expected = row.hash, row.id, expected + 1
            checked += 1
    if checked < head_seq:
        raise broken(checked + 1, f"the head records {head_seq} rows, the lane ends at row {checked} "
                                  "(rows deleted from the end)")
    if checked > head_seq:
        raise broken(head_seq + 1, f"rows beyond the head's last row {head_seq} "
                                   "(appended without the head, or head rewound)")
    if prev_hash != head_hash:
        raise broken(None, "the head hash does not match the lane's last row (head edited)")
    return checked
