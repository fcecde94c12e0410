"""Sessions for GET routes: on PostgreSQL every statement commits by itself, no BEGIN / COMMIT round trips.

psycopg opens a transaction with a ``BEGIN`` round trip of its own and closes it with a ``COMMIT`` one: two
of a GET request's five (BEGIN, login session, the query, the audit append, COMMIT), each costing the API
process and PostgreSQL about as much CPU as a small query. A GET route needs neither:

- what it writes is its audit row, appended by one statement that locks a lane head, inserts and moves the
  head atomically by itself (``compliance.audit.chain``), and at most every 30 s the caller's last-seen
  time, already written in a transaction of its own (``deps._touch``). The audit row is still written
  before the response is sent (at ``session.commit()`` in the route's thread), and a failed write still
  fails the request: nothing is returned unaudited.
- it reads under READ COMMITTED, where each statement of a transaction takes its own snapshot anyway, so
  a transaction around its reads adds no consistency.

ORM writes in such a session are refused (``ReadSessionWriteError``): a route that starts to write must
become a POST / PUT / PATCH / DELETE, whose transaction holds its action and audit row together. SQLite
keeps its transactions: its audit append is two statements, and its BEGIN costs no round trip.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

_READS_ONLY = "medvlm.service.reads_only"


class ReadSessionWriteError(RuntimeError):
    """A GET route tried to write through the ORM (a programming error: it must not be a GET)."""


def reads_engine(engine: Engine) -> Engine:
    """``engine`` with autocommit on PostgreSQL (the same pool, connections reset on return)."""
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def read_session(engine: Engine) -> Session:
    session = Session(engine, expire_on_commit=False)
    session.info[_READS_ONLY] = True
    return session


@event.listens_for(OrmSession, "before_flush")
def _refuse_writes(session: OrmSession, _context: Any, _instances: Any) -> None:
    if session.info.get(_READS_ONLY) and (session.new or session.dirty or session.deleted):
        raise ReadSessionWriteError(
            "a GET route's session is read-only (each statement commits by itself); "
            f"refusing to write {len(session.new)} new, {len(session.dirty)} changed, "
            f"{len(session.deleted)} deleted objects"
        )
