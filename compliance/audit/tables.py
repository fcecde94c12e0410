"""The audit trail's tables (schema created by migration ``0004_audit``).

``audit_event`` is append-only: each row carries its sequence number (the primary key, no gaps), the
hash of the previous row and its own hash over its canonical JSON, so an edited, deleted or reordered row
breaks the chain. ``audit_head`` holds one row with the last sequence number and hash: appending updates
it first, which serialises concurrent writers on PostgreSQL (row lock) and SQLite (write lock), and it
lets ``verify`` notice rows deleted from the tail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

GENESIS_HASH = "0" * 64
HEAD_ID = 1


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    seq: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
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

    id: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    last_seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    last_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
