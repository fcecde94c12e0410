"""Fixtures for the browser tests: the live service and Chromium (once per session), a fresh page per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import missing_service
from tests.ui.live import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LiveService, running_service


@pytest.fixture(scope="session")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with running_service(tmp_path_factory.mktemp("ui-service")) as service:
        yield service


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        missing_service("Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # The tests wait on string expressions, which Playwright evaluates with eval() in the page: the
    # service's CSP forbids that, so these contexts bypass it; test_csp runs the UI under the real policy.
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, accept_downloads=True,
                                  bypass_csp=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
