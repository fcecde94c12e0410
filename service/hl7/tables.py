"""The HL7 outbox: one row per message, written in the transaction that signs (or adds an addendum to) a
report, so that a committed signature always has its message and a rolled-back one never does.

``id`` is an autoincrementing sequence: messages of one report go out in that order (the sender holds a
report's later message back while an earlier one is undelivered). ``control_id`` is MSH-10, which the
receiver's ACK must echo in MSA-2.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from medvlm.service.db.tables import now_utc


class Hl7Message(SQLModel, table=True):
    __tablename__ = "service_hl7_outbox"
    __table_args__ = (sa.Index("ix_service_hl7_outbox_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    control_id: str = Field(max_length=20, unique=True)
    report_id: str = Field(max_length=36, index=True)
    event: str = Field(max_length=16)  # signed | addendum
    message: str = Field(sa_type=sa.Text)  # ER7, segments separated by CR
    status: str = Field(default="pending", max_length=16)  # pending | sending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    lease_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    ack_code: str | None = Field(default=None, max_length=2)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    sent_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
