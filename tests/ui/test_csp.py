"""The UI under the service's real Content-Security-Policy (issue #19 item 12): the worklist and the
review page work with no violation, and another origin cannot frame the UI."""

from __future__ import annotations

from typing import Any

from tests.ui.live import LiveService, login

VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) =>
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


def test_the_ui_runs_under_the_csp(live_service: LiveService, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})  # CSP enforced
    try:
        page = context.new_page()
        page.add_init_script(VIOLATIONS)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, live_service.base_url)
        assert page.evaluate("window.__cspViolations") == []
        page.goto(f"{live_service.base_url}/review/{live_service.second_study_uid}")
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        assert page.evaluate("window.__cspViolations") == [] and errors == []
    finally:
        context.close()


def test_another_origin_cannot_frame_the_ui(live_service: LiveService, browser: Any) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(f'<iframe id="f" src="{live_service.base_url}/" width="800" height="600"></iframe>')
        page.wait_for_timeout(1500)
        frame = page.frame_locator("#f")
        assert frame.locator("#login-form").count() == 0  # the UI never rendered inside the frame
    finally:
        context.close()
