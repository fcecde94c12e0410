"""Service fixtures: an app on the test database (SQLite and PostgreSQL), users of every role, tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from medvlm.service.app import create_app
from medvlm.service.auth.security import api_key_digest, new_api_key
from medvlm.service.db.tables import ApiKey
from medvlm.service.jobs.worker import Worker
from medvlm.settings import Settings, get_settings
from tests.service.helpers import PixelDrafter, make_user, token_for

SECRET = "test-secret-" + "x" * 40


@pytest.fixture
def app_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MEDVLM_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def drafter() -> PixelDrafter:
    return PixelDrafter()


@pytest.fixture
def app(app_settings: Settings, drafter: PixelDrafter) -> FastAPI:
    return create_app(app_settings, drafter=drafter)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@dataclass
class Callers:
    """Authorization headers of one caller per role, plus a second integration key."""

    radiologist: dict[str, str]
    researcher: dict[str, str]
    admin: dict[str, str]
    integration: dict[str, str]
    other_integration: dict[str, str]

    def of(self, role: str) -> dict[str, str]:
        return getattr(self, role)


@pytest.fixture
def callers(app: FastAPI) -> Callers:
    with Session(app.state.engine) as session:
        headers = {}
        users = {}
        for role in ("radiologist", "researcher", "admin"):
            users[role] = make_user(session, f"{role}1", role)
            headers[role] = {"Authorization": f"Bearer {token_for(session, SECRET, users[role])}"}
        for name in ("integration", "other_integration"):
            key = new_api_key()
            session.add(
                ApiKey(
                    name=name, key_hash=api_key_digest(key), role="integration", created_by=users["admin"].id
                )
            )
            headers[name] = {"X-API-Key": key}
        session.commit()
    return Callers(**headers)


@pytest.fixture
def worker(app: FastAPI) -> Worker:
    """A worker on the app's database with the app's drafter, run step by step by the tests."""
    return Worker(app.state.engine, app.state.drafter, worker_id="test-worker", lease=timedelta(seconds=60))
