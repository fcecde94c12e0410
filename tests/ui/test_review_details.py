"""Browser checks around the main path: login errors, worklist keyboard and search, study navigation,
help overlay, autosave through a lost connection, sign-off confirmation, labels, focus order, contrast.

They use the second study (a synthetic DX chest film) so that the film signed by the flow test stays
out of their way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.ui.live import PASSWORD, USERNAME, LiveService, login

pytestmark = [pytest.mark.browser, pytest.mark.integration]

OFFLINE_TEXT = "Typed while offline UITEST-OFFLINE: heart size normal."
CONTRAST = (Path(__file__).parent / "contrast.js").read_text()
# (control, value, the study that alone matches): the film is a CR of 2004-08-26, the DX of 2004-01-19.
FILTER_CASES = [("#modality", "DX", "second_study_uid"), ("#modality", "CR", "study_uid"),
                ("#date_from", "2004-08-01", "study_uid")]
TEXT_SELECTORS = ["body", ".muted", ".field > span", ".btn", ".badge", ".tool", ".patient-meta", ".ai-label",
                  ".model-version", ".finding-name", ".toggle", ".prob-text", ".save-state", ".flag-msg",
                  ".overlay", ".viewer-hint", "h2", "textarea", "th", "td"]


def _open(page: Any, service: LiveService, study_uid: str) -> None:
    login(page, service.base_url)
    page.goto(f"{service.base_url}/review/{study_uid}")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)


def _report(service: LiveService) -> dict[str, Any]:
    response = service.api("GET", f"studies/{service.second_study_uid}/report")
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize(("username", "password"), [(USERNAME, "wrong-password"), ("nobody", PASSWORD)])
def test_login_refuses_bad_credentials(live_service: LiveService, page: Any, username: str,
                                       password: str) -> None:
    page.goto(f"{live_service.base_url}/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_function("document.querySelector('#login-error').textContent !== ''")
    assert page.locator("#login-error").inner_text() == "Wrong username or password."
    assert page.locator("#worklist-view").is_hidden()
    assert page.evaluate("sessionStorage.getItem('medvlm.token')") is None


def test_review_page_without_a_session_goes_to_login(live_service: LiveService, page: Any) -> None:
    page.goto(f"{live_service.base_url}/review/{live_service.second_study_uid}")
    page.wait_for_selector("#login-form")
    assert "next=%2Freview%2F" in page.url


def test_worklist_search_keyboard_and_study_navigation(live_service: LiveService, page: Any) -> None:
    login(page, live_service.base_url)
    rows = page.locator("#worklist-body tr")
    assert rows.count() >= 2
    uids = [rows.nth(i).get_attribute("data-uid") for i in range(rows.count())]

    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.fill("#q", "2DX2")  # the DX film's patient id
    page.wait_for_function("document.querySelectorAll('#worklist-body tr').length === 1")
    assert rows.first.get_attribute("data-uid") == live_service.second_study_uid
    page.fill("#q", "no-such-accession")
    page.wait_for_selector("#worklist-empty:not([hidden])")
    page.fill("#q", "")
    page.wait_for_function(f"document.querySelectorAll('#worklist-body tr').length === {len(uids)}")
    for control, value, expected in FILTER_CASES:
        (page.select_option if control != "#date_from" else page.fill)(control, value)
        page.wait_for_function("document.querySelectorAll('#worklist-body tr').length === 1")
        assert rows.first.get_attribute("data-uid") == getattr(live_service, expected), (control, value)
        page.click("#clear-filters")
        page.wait_for_function(f"document.querySelectorAll('#worklist-body tr').length === {len(uids)}")

    rows.first.focus()
    page.keyboard.press("ArrowDown")
    assert page.locator('#worklist-body tr[aria-selected="true"]').get_attribute("data-uid") == uids[1]
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/review/{uids[1]}")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)

    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    assert "Next study" in page.locator("#help").inner_text()
    page.keyboard.press("Escape")
    assert page.locator("#help").is_hidden()
    page.keyboard.press("F6")  # viewer <-> editor
    assert page.evaluate("document.activeElement.id") == "draft-impression"
    page.keyboard.press("F6")
    assert page.evaluate("document.activeElement.id") == "viewer"

    page.locator("body").focus()
    page.keyboard.press("[")  # previous study
    page.wait_for_url(f"**/review/{uids[0]}")


def test_autosave_keeps_an_edit_through_a_lost_connection(live_service: LiveService, page: Any) -> None:
    _open(page, live_service, live_service.second_study_uid)
    report_id = live_service.second_report_id
    page.context.set_offline(True)
    page.fill("#draft-findings", OFFLINE_TEXT)
    page.wait_for_selector("#save-state[data-state=offline]", timeout=15_000)
    local = json.loads(page.evaluate(f"localStorage.getItem('medvlm.draft.{report_id}')"))
    assert local["findings_text"] == OFFLINE_TEXT
    assert _report(live_service)["findings_text"] != OFFLINE_TEXT

    page.context.set_offline(False)
    page.wait_for_selector("#save-state[data-state=saved]", timeout=30_000)
    assert _report(live_service)["findings_text"] == OFFLINE_TEXT
    assert page.evaluate(f"localStorage.getItem('medvlm.draft.{report_id}')") is None


def _edit_elsewhere(service: LiveService, impression: str) -> None:
    """Another reader saves an edit through the API: the server's version moves on."""
    report = _report(service)
    response = service.api("PUT", f"reports/{service.second_report_id}",
                           json={"impression": impression, "base_version": report["version"]})
    assert response.status_code == 200, response.text


def test_a_stale_edit_is_never_silently_overwritten(live_service: LiveService, page: Any) -> None:
    report_id = live_service.second_report_id
    _open(page, live_service, live_service.second_study_uid)
    _edit_elsewhere(live_service, "Edited elsewhere UITEST-1.")
    page.fill("#draft-impression", "Mine, on a stale version UITEST-2.")
    page.wait_for_selector("#save-state[data-state=conflict]", timeout=15_000)
    assert _report(live_service)["impression"] == "Edited elsewhere UITEST-1."
    assert "UITEST-2" in page.evaluate(f"localStorage.getItem('medvlm.draft.{report_id}')")

    # Reopened later: the device's copy is offered, not applied; restoring it saves it on the new version.
    context = page.context
    page.close()
    page = context.new_page()
    _open(page, live_service, live_service.second_study_uid)
    assert page.locator("#local-banner").is_visible()
    assert page.input_value("#draft-impression") == "Edited elsewhere UITEST-1."
    page.click("#local-banner >> text=Restore my copy")
    page.wait_for_selector("#save-state[data-state=saved]", timeout=30_000)
    assert _report(live_service)["impression"] == "Mine, on a stale version UITEST-2."


def test_signing_needs_an_explicit_confirmation(live_service: LiveService, page: Any) -> None:
    _open(page, live_service, live_service.second_study_uid)
    page.click("#sign-button")
    page.wait_for_selector("#sign-dialog[open]")
    summary = page.locator("#sign-summary").inner_text()
    assert USERNAME in summary and "null" not in summary
    flags = _report(live_service)["consistency_flags"]
    if flags:  # open flags are named before signing, never signed past in silence
        assert f"{len(flags)} open consistency flag" in summary and flags[0]["kind"] in summary
    page.click("#sign-cancel")
    assert page.locator("#sign-dialog").get_attribute("open") is None

    page.locator("#draft-impression").focus()
    page.keyboard.press("Control+Enter")  # the sign shortcut works from the editor, and still asks
    page.wait_for_selector("#sign-dialog[open]")
    page.keyboard.press("Escape")
    page.wait_for_function("!document.querySelector('#sign-dialog').open")
    page.wait_for_timeout(300)
    assert _report(live_service)["status"] != "signed"
    assert page.locator("#ai-label").inner_text().strip().lower() == "ai draft"


def test_labels_focus_order_and_contrast(live_service: LiveService, page: Any) -> None:
    _open(page, live_service, live_service.second_study_uid)
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('input,select,textarea,button,canvas')]
        .filter((el) => el.offsetParent !== null)
        .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                        && !el.textContent.trim())
        .map((el) => el.outerHTML.slice(0, 80))""")
    assert unlabeled == []

    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
    assert order[:4] == ["Skip to the draft", "back", "prev-study", "next-study"], order

    low = [c for c in page.evaluate(CONTRAST, TEXT_SELECTORS) if c["ratio"] < 4.5]
    assert low == [], f"text below WCAG AA contrast 4.5:1: {low[:5]}"


def test_thresholds_beside_probabilities_and_the_plus_shortcut(live_service: LiveService, page: Any) -> None:
    _open(page, live_service, live_service.second_study_uid)
    findings = _report(live_service)["findings"]
    assert all(isinstance(f.get("threshold"), float) for f in findings)  # the API carries each threshold
    first = page.locator(".finding .prob").first
    assert "threshold" in first.inner_text() and "%" in first.inner_text()
    page.wait_for_function("window.__medvlm && window.__medvlm.viewer.ready", timeout=30_000)
    before = page.evaluate("window.__medvlm.viewer.scale")
    page.evaluate("document.activeElement && document.activeElement.blur()")  # not typing in a field
    page.keyboard.press("+")
    assert page.evaluate("window.__medvlm.viewer.scale") == pytest.approx(before * 1.25)
    page.keyboard.press("?")
    page.wait_for_selector("#help:not([hidden])")
    assert "Zoom in" in page.locator("#help").inner_text()
    keys = page.evaluate("""() => [...document.querySelectorAll('#help tr')]
        .filter((tr) => tr.textContent.includes('Zoom in'))
        .map((tr) => [...tr.querySelectorAll('kbd')].map((k) => k.textContent))[0]""")
    assert keys == ["+", "="], keys  # not empty key boxes
