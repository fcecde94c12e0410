"""The correction-burden page (``/corrections``): served by the UI router, and in Chromium under the real
CSP it signs a researcher in and shows each model version's numbers from ``GET /corrections/burden``."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from medvlm.service.app import create_app
from medvlm.service.db.tables import Report
from medvlm.service.ui.router import STATIC_DIR
from medvlm.settings import Settings, get_settings
from tests.service.helpers import make_user
from tests.support.app_server import serve_in_thread
from tests.ui.test_csp import VIOLATIONS

PASSWORD = "harbour quill meadow 27"
CARDIO = {"label": "cardiomegaly", "presence": "present"}


def test_page_and_module_are_served_and_parse() -> None:
    from fastapi import FastAPI

    from medvlm.service.ui.router import router

    app = FastAPI()
    app.include_router(router)
    client = TestClient(app)
    page = client.get("/corrections")
    assert page.status_code == 200 and 'src="/ui/static/js/corrections.js"' in page.text
    assert "<script>" not in page.text  # no inline script: the CSP allows same-origin files only
    module = client.get("/ui/static/js/corrections.js")
    assert module.status_code == 200 and "corrections/burden" in module.text
    check = subprocess.run(["node", "--input-type=module", "--check"], input=module.content,
                           capture_output=True, check=False)
    assert check.returncode == 0, check.stderr.decode()
    assert (STATIC_DIR / "css" / "corrections.css").is_file()


@pytest.fixture
def served(sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The real app on SQLite under uvicorn in a thread, a researcher and two signed reports."""
    monkeypatch.setenv("MEDVLM_SECRET_KEY", "ui-burden-secret-0123456789abcdef0123456789abcdef")
    get_settings.cache_clear()
    app = create_app(get_settings())
    with Session(app.state.engine) as session:
        make_user(session, "res.ui", "researcher", PASSWORD)
        session.add(Report(study_instance_uid="1.2.88.1", status="signed", model_version="v-ui", findings=[],
                           original={"findings": [CARDIO], "findings_text": "Big heart.", "impression": ""},
                           findings_text="Normal heart.", impression=""))
        session.add(Report(study_instance_uid="1.2.88.2", status="signed", model_version="v-ui",
                           findings=[CARDIO], original={"findings": [CARDIO], "findings_text": "Big heart."},
                           findings_text="Big heart.", impression=""))
        session.commit()
    with serve_in_thread(app) as base:
        yield base


def test_researcher_sees_the_burden_under_the_csp(served: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # CSP enforced
    try:
        page = context.new_page()
        page.add_init_script(VIOLATIONS)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{served}/corrections")
        page.fill("#username", "res.ui")
        page.fill("#password", PASSWORD)
        page.click("#login-form button[type=submit]")
        card = page.wait_for_selector(".version-card[data-version=v-ui]", timeout=20_000)
        text = card.inner_text()
        assert "2 signed reports" in text and "50.0% signed unchanged" in text
        row = page.locator(".burden tbody tr", has_text="cardiomegaly").inner_text().split()
        assert row[:4] == ["cardiomegaly", "2", "1", "50.0%"]  # drafted twice, accepted once
        assert page.evaluate("window.__cspViolations") == [] and errors == []
    finally:
        context.close()
