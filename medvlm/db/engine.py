"""Engine creation, migrations and transactional sessions.

SQLite gets WAL and a busy timeout so that two ingesting processes wait for each other instead of
failing; PostgreSQL is used as is. The schema always comes from Alembic, never from ``create_all``,
so that SQLite and PostgreSQL run the same migrations.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session, create_engine

from medvlm.settings import get_settings

# A pooled connection idle this long is pinged before use. ``pool_pre_ping`` pinged on every checkout: one
# more round trip per API request, about a tenth of a request's CPU under load.
IDLE_PING_SECONDS = 5.0


def create_db_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_after_idle(engine, IDLE_PING_SECONDS)
    return engine


def _ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a connection taken from the pool after ``idle_seconds`` in it; a dead one is replaced.

    Connections in steady use are not pinged: a server restart is noticed by the first statement that
    fails on one, and SQLAlchemy then drops every connection the pool held before it.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record):  # type: ignore[no-untyped-def]
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy):  # type: ignore[no-untyped-def]
        since = record.info.get("checked_in_at")
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # any failure: the pool discards this connection and takes another
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return create_db_engine(url)


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: the settings' database)."""
    return _engine_for(url or get_settings().resolved_database_url)


def migrate(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` with Alembic (idempotent)."""
    from alembic import command

    from medvlm.db.migrations_config import alembic_config

    command.upgrade(alembic_config(get_engine(url)), revision)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
