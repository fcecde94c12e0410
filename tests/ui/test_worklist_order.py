"""The worklist's "Most uncertain first" order (issue #23): a researcher choosing which studies to have
corrected next picks it in the filters; the page asks the API for ``order=uncertainty`` and lists the
studies in the API's order; "Clear" goes back to critical first, newest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ui.live import LiveService, login

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _shown(page: Any) -> list[str]:
    return page.locator("#worklist-body tr").evaluate_all("rows => rows.map(r => r.dataset.uid)")


def test_the_worklist_orders_most_uncertain_first_on_request(live_service: LiveService, page: Any,
                                                             artifacts: Path) -> None:
    login(page, live_service.base_url)
    with page.expect_request(lambda r: "/api/v1/studies?" in r.url and "order=uncertainty" in r.url):
        page.select_option("#order", "uncertainty")
    expected = live_service.api("GET", "studies", params={"order": "uncertainty", "page_size": 50})
    assert expected.status_code == 200, expected.text
    uids = [s["study_instance_uid"] for s in expected.json()["items"]]
    rows = "[...document.querySelectorAll('#worklist-body tr')].map(r => r.dataset.uid).join()"
    page.wait_for_function(f"{rows} === {','.join(uids)!r}")
    assert _shown(page) == uids and live_service.study_uid in uids
    page.screenshot(path=str(artifacts / "worklist-uncertain-first.png"))
    with page.expect_request(lambda r: "/api/v1/studies?" in r.url and "order=" not in r.url):
        page.click("#clear-filters")
    assert page.input_value("#order") == ""
