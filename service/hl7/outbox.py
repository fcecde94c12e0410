"""Queueing ORU^R01 messages in the signing transaction, and claiming them for delivery.

``enqueue`` is called by the workflow (``service.workflow.reports``) inside the transaction that signs or
adds an addendum: the message row commits or rolls back with the signature. Nothing is queued when no
HL7 endpoint is configured (``MEDVLM_HL7_HOST``).

Delivery order: a report's later message is held back while an earlier one of the same report is
undelivered, so a RIS never receives an addendum before the signature it amends. Several senders may run
(one per worker process): a row is claimed by a conditional UPDATE, and a claim whose lease ran out
(sender killed mid-send) becomes due again.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from medvlm.service.db.tables import Report, now_utc
from medvlm.service.hl7.oru import Endpoints, Event, build_oru
from medvlm.service.hl7.tables import Hl7Message
from medvlm.settings import Settings, get_settings

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
MAX_DELAY = timedelta(hours=1)


def endpoints(settings: Settings) -> Endpoints:
    return Endpoints(settings.hl7_sending_application, settings.hl7_sending_facility,
                     settings.hl7_receiving_application, settings.hl7_receiving_facility)


def enqueue(
    session: Session, report: Report, event: Event, settings: Settings | None = None
) -> Hl7Message | None:
    """Queue the ORU^R01 for ``report`` (already signed / with its new addendum flushed); None when off."""
    from medvlm.service.exports.context_builder import build_context

    settings = settings or get_settings()
    if not settings.hl7_host:
        return None
    control_id = uuid.uuid4().hex[:20]
    message = build_oru(build_context(session, report), event=event, control_id=control_id,
                        endpoints=endpoints(settings))
    row = Hl7Message(control_id=control_id, report_id=report.id, event=event, message=message)
    session.add(row)
    session.flush()
    return row


def claim(engine: Engine, lease: timedelta, now: datetime | None = None) -> Hl7Message | None:
    """Take the next due message (oldest first, a report's messages in order), or None."""
    now = now or now_utc()
    earlier = aliased(Hl7Message)
    blocked = exists().where(
        and_(earlier.report_id == Hl7Message.report_id, col(earlier.id) < col(Hl7Message.id),
             col(earlier.status).in_([PENDING, SENDING, FAILED]))
    )
    due = or_(
        and_(Hl7Message.status == PENDING, col(Hl7Message.next_attempt_at) <= now),
        and_(Hl7Message.status == SENDING, col(Hl7Message.lease_until) < now),
    )
    with Session(engine, expire_on_commit=False) as session:
        candidates = session.exec(
            select(Hl7Message).where(due, ~blocked).order_by(col(Hl7Message.id)).limit(5)
        ).all()
        for row in candidates:
            taken = session.execute(
                update(Hl7Message)
                .where(col(Hl7Message.id) == row.id, col(Hl7Message.status) == row.status,
                       col(Hl7Message.attempts) == row.attempts)
                .values(status=SENDING, lease_until=now + lease, attempts=row.attempts + 1)
            )
            session.commit()
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return session.get(Hl7Message, row.id, populate_existing=True)
    return None


def mark_sent(engine: Engine, row_id: int, ack_code: str) -> None:
    with Session(engine) as session:
        row = session.get(Hl7Message, row_id)
        if row is not None:
            row.status, row.ack_code, row.sent_at, row.lease_until = SENT, ack_code, now_utc(), None
            row.last_error = None
            session.add(row)
            session.commit()


def mark_failed_attempt(engine: Engine, row_id: int, reason: str, *, retry: bool, ack_code: str | None,
                        settings: Settings) -> None:
    """Schedule the next attempt (exponential back-off) or give up: AR, or attempts used up."""
    with Session(engine) as session:
        row = session.get(Hl7Message, row_id)
        if row is None:
            return
        row.last_error, row.ack_code, row.lease_until = reason[:2000], ack_code, None
        if retry and row.attempts < settings.hl7_max_attempts:
            delay = timedelta(seconds=settings.hl7_retry_seconds * 2 ** (row.attempts - 1))
            row.status, row.next_attempt_at = PENDING, now_utc() + min(delay, MAX_DELAY)
        else:
            row.status = FAILED
        session.add(row)
        session.commit()


def retry_failed(engine: Engine, report_id: str | None = None) -> int:
    """Put failed messages back in the queue (after the receiver was fixed); returns how many."""
    with Session(engine) as session:
        query = update(Hl7Message).where(col(Hl7Message.status) == FAILED)
        if report_id is not None:
            query = query.where(col(Hl7Message.report_id) == report_id)
        result = session.execute(query.values(status=PENDING, attempts=0, next_attempt_at=now_utc()))
        session.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]
