"""Fixtures shared by the whole suite: settings isolated per test, databases on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from medvlm.db import get_engine, migrate
from medvlm.settings import Settings, get_settings
from tests.support.postgres import PostgresServer, running_postgres
from tests.support.services import missing_service

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        if server is None:
            missing_service("PostgreSQL (initdb/postgres)")
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database: the same test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'medvlm.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database()
    migrate(url)
    return url


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Settings]:
    """Settings pointing at a private data directory and a fresh database, visible to ``get_settings()``."""
    monkeypatch.setenv("MEDVLM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MEDVLM_DATABASE_URL", database_url)
    monkeypatch.setenv("MEDVLM_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
    get_engine(database_url).dispose()


@pytest.fixture
def sqlite_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Like ``settings`` but SQLite only, for tests that are not about the database."""
    url = f"sqlite:///{tmp_path / 'medvlm.db'}"
    migrate(url)
    monkeypatch.setenv("MEDVLM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MEDVLM_DATABASE_URL", url)
    monkeypatch.setenv("MEDVLM_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


# The real service on the test database with one radiologist (the corrections export, the audit checks).
SECRET = "compliance-test-secret-" + "y" * 40


@pytest.fixture
def service(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, object, dict]]:
    """(client, worker, radiologist headers) for the service app on ``settings`` (SQLite and PostgreSQL)."""
    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from medvlm.service.app import create_app
    from medvlm.service.jobs.worker import Worker
    from medvlm.settings import get_settings
    from tests.service.helpers import PixelDrafter, make_user, token_for

    monkeypatch.setenv("MEDVLM_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    app = create_app(get_settings(), drafter=PixelDrafter())
    with Session(app.state.engine) as session:
        user = make_user(session, "rad1", "radiologist")
        headers = {"Authorization": f"Bearer {token_for(session, SECRET, user)}"}
        session.commit()
    worker = Worker(app.state.engine, app.state.drafter, worker_id="w", lease=timedelta(seconds=60))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, worker, headers
