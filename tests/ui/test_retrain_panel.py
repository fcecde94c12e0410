"""The retraining panel on ``/corrections``: in Chromium under the real CSP an admin queues a job (a bad
dataset is refused with the API's reason), follows a running job's progress as the worker moves it, and
reads the outcome; a researcher never sees the panel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from medvlm.service.app import create_app
from medvlm.service.db.retrain_tables import RetrainJob
from medvlm.settings import Settings, get_settings
from tests.service.helpers import make_user
from tests.support.app_server import serve_in_thread
from tests.ui.test_csp import VIOLATIONS

PASSWORD = "lantern orchard pebble 41"


@pytest.fixture
def served(sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """The real app on SQLite under uvicorn in a thread (no retraining worker: the test moves the job)."""
    monkeypatch.setenv("MEDVLM_SECRET_KEY", "ui-retrain-secret-0123456789abcdef0123456789abcdef")
    get_settings.cache_clear()
    app = create_app(get_settings())
    with Session(app.state.engine) as session:
        make_user(session, "admin.ui", "admin", PASSWORD)
        make_user(session, "res.ui", "researcher", PASSWORD)
        session.commit()
    with serve_in_thread(app) as base:
        yield base, app.state.engine


def _sign_in(page: Any, base: str, user: str) -> None:
    page.goto(f"{base}/corrections")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#burden-view:not([hidden])", timeout=20_000)


def _move(engine: Any, **values: Any) -> None:
    with Session(engine) as session:
        job = session.exec(select(RetrainJob)).one()
        for key, value in values.items():
            setattr(job, key, value)
        session.add(job)
        session.commit()


def test_admin_queues_and_follows_a_retraining(served: tuple[str, Any], browser: Any, tmp_path: Path) -> None:
    base, engine = served
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.jsonl").write_text("")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # CSP enforced
    try:
        page = context.new_page()
        page.add_init_script(VIOLATIONS)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        _sign_in(page, base, "admin.ui")
        page.wait_for_selector("#retrain-view:not([hidden])", timeout=10_000)
        assert page.locator("#retrain-empty").is_visible()

        page.fill("#retrain-data", str(tmp_path / "nowhere"))
        page.click("#retrain-form button[type=submit]")
        page.wait_for_selector("#retrain-error:has-text('no manifest.jsonl')", timeout=10_000)

        page.fill("#retrain-data", str(data))
        page.check("#retrain-promote")
        page.click("#retrain-form button[type=submit]")
        job = page.wait_for_selector(".retrain-job[data-status=queued]", timeout=10_000)
        assert "waiting for a worker" in job.inner_text() and page.inner_text("#retrain-error") == ""

        _move(engine, status="running", stage="corrections", step=12, steps=40)
        page.wait_for_selector(".retrain-job[data-status=running]", timeout=10_000)  # the panel polls
        assert "corrections · step 12/40" in page.inner_text(".retrain-job")
        assert page.inner_text(".retrain-percent") == "30.0%"

        _move(engine, status="done", candidate_id="v-next", promoted=False)
        done = page.wait_for_selector(".retrain-job[data-status=done]", timeout=10_000)
        assert "candidate v-next registered; the gate refused promotion" in done.inner_text()
        assert page.inner_text(".retrain-percent") == "100.0%"
        assert page.evaluate("window.__cspViolations") == [] and errors == []
    finally:
        context.close()


def test_a_researcher_sees_no_retraining_panel(served: tuple[str, Any], browser: Any) -> None:
    base, _ = served
    context = browser.new_context()
    try:
        page = context.new_page()
        _sign_in(page, base, "res.ui")
        page.wait_for_timeout(500)
        assert page.locator("#retrain-view").is_hidden()
    finally:
        context.close()
