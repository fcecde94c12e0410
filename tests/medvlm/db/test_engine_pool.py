"""PostgreSQL pool: a connection idle in the pool is pinged before use, and a dead one is replaced."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from medvlm.db import engine as engine_module


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.mark.postgres
def test_an_idle_connection_killed_by_the_server_is_replaced(postgres_server: object,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)  # every checkout counts as idle
    url = postgres_server.create_database()  # type: ignore[attr-defined]
    engine = engine_module.create_db_engine(url)
    try:
        first = _backend_pid(engine)
        _terminate(url, first)  # e.g. a database restart while the service was quiet
        assert _backend_pid(engine) != first  # no error: the ping failed and the pool reconnected
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_connection_in_steady_use_is_not_pinged(postgres_server: object,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_server.create_database()  # type: ignore[attr-defined]
    engine = engine_module.create_db_engine(url)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))
    try:
        for _ in range(5):
            _backend_pid(engine)
        assert pings == []  # the round trip pool_pre_ping would have spent on each checkout
    finally:
        engine.dispose()
