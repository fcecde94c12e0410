"""Fixtures for the compliance tests: the real service on the test database, with one radiologist."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from medvlm.settings import Settings, get_settings

SECRET = "compliance-test-secret-" + "y" * 40


@pytest.fixture
def service(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, object, dict]]:
    """(client, worker, radiologist headers) for the service app on ``settings`` (SQLite and PostgreSQL)."""
    from medvlm.service.app import create_app
    from medvlm.service.jobs.worker import Worker
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
