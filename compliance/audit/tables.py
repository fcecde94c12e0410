"""The audit trail's tables (created by migration ``0004_audit``, split into lanes by ``0006_audit_lanes``).

``audit_event`` is append-only. The trail is ``LANES`` independent hash chains ("lanes"): each row
carries its lane, its position in that lane (``lane_seq``, 1, 2, ... without gaps), the hash of the
lane's previous row and its own hash over its canonical JSON, so an edited, deleted, reordered or
inserted row breaks its lane. ``audit_head`` holds one row per lane with that lane's last position and
hash: an appending transaction locks only its lane's head (``chain.record``), so up to ``LANES``
transactions append at once instead of queueing on one row, and ``verify`` uses the heads to notice rows
deleted from a lane's end. ``id`` (a database sequence, gaps allowed) with ``created_at`` orders the
rows of all lanes for display; it increases along each lane, which ``verify`` checks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

GENESIS_HASH = "0" * 64
LANES = 16

# SQLite only auto-numbers an INTEGER PRIMARY KEY (the rowid); PostgreSQL gets a BIGSERIAL.
_ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (sa.UniqueConstraint("lane", "lane_seq", name="uq_audit_event_lane_seq"),)

    id: int | None = Field(default=None, sa_column=sa.Column(_ID_TYPE, primary_key=True, autoincrement=True))
    lane: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    lane_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=False), nullable=False, index=True))
    actor: str = Field(sa_column=sa.Column(sa.String(255), nullable=False, index=True))
    action: str = Field(sa_column=sa.Column(sa.String(100), nullable=False, index=True))
    resource_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    resource_id: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    detail: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
    prev_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_head"

    lane: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    last_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    last_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
