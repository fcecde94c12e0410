"""OpenID Connect sign-on in the browser: the login page offers "Sign in with <IdP>" (only when OIDC is
configured), the callback lands on the worklist signed in as the mapped role, and a refusal (a bad ID token,
no mapped group) shows its reason on the login page.

A service of its own (OIDC settings) beside the test provider (``tests.support.oidc_provider``), both on
127.0.0.1 and stopped by PID. The test provider has no login form: it signs in the user named by
``login_hint``, which the browser's request to it gets here (a Playwright route), as a user would type it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from subprocess import STDOUT
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support.oidc_provider import RunningProvider, running_provider
from tests.support.processes import free_port, wait_healthy
from tests.ui.live import ARTIFACTS, PASSWORD, REPO, USERNAME, _create_user, _stop

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

CLIENT_ID, CLIENT_SECRET = "medvlm-ui", "medvlm-ui-secret"
USERS = {
    "alice": {"preferred_username": "alice", "groups": ["medvlm-radiologists"]},
    "carol": {"preferred_username": "carol", "groups": ["cleaners"]},  # in no mapped group
}
ROLES = {"medvlm-admins": "admin", "medvlm-radiologists": "radiologist"}


@dataclass
class SsoService:
    base_url: str
    provider: RunningProvider


@pytest.fixture(scope="module")
def sso_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoService]:
    root = tmp_path_factory.mktemp("sso-ui")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    callback = f"{base_url}/api/v1/auth/oidc/callback"
    clients = {CLIENT_ID: {"secret": CLIENT_SECRET, "redirect_uris": [callback]}}
    database_url = f"sqlite:///{root / 'medvlm.db'}"
    _create_user(database_url)  # a local account: the password login works beside SSO
    with running_provider(clients, USERS, root) as provider:
        env = {**os.environ, "MEDVLM_DATA_DIR": str(root / "data"), "MEDVLM_DATABASE_URL": database_url,
               "MEDVLM_ENVIRONMENT": "test", "MEDVLM_SECRET_KEY": "sso-ui-secret-0123456789abcdef01234567",
               "MEDVLM_OIDC_ISSUER": provider.issuer, "MEDVLM_OIDC_CLIENT_ID": CLIENT_ID,
               "MEDVLM_OIDC_CLIENT_SECRET": CLIENT_SECRET, "MEDVLM_OIDC_SCOPES": "openid profile groups",
               "MEDVLM_OIDC_REDIRECT_URI": callback,
               "MEDVLM_OIDC_GROUP_ROLES": json.dumps(ROLES), "MEDVLM_OIDC_DISPLAY_NAME": "Hospital SSO",
               "MEDVLM_OIDC_LEEWAY_SECONDS": "0", "PYTHONUNBUFFERED": "1"}
        log = root / "server.log"
        with log.open("wb") as server_log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "medvlm.service.app:create_app", "--host",
                 "127.0.0.1", "--port", str(port), "--log-level", "info"],
                cwd=REPO, env=env, stdout=server_log, stderr=STDOUT)
            try:
                wait_healthy(base_url, proc, seconds=90, log=log)
                yield SsoService(base_url, provider)
            finally:
                _stop(proc)
        assert "access_token" not in log.read_text()  # the session never reaches the server's log


def _as_user(page: Any, base_url: str, user: str) -> None:
    """The provider's "login form": the service's redirect to the provider gets ``login_hint=user``.

    (Playwright routes only the first request of a redirect chain, so the service's answer is fetched and
    passed on with the provider's URL completed; its pending-login cookie goes to the browser unchanged.)"""
    def fill_in(route: Any) -> None:
        answer = route.fetch(max_redirects=0)
        hinted = f"{answer.headers['location']}&{urlencode({'login_hint': user})}"
        headers = {**answer.headers, "location": hinted}
        route.fulfill(response=answer, headers=headers)

    page.route(f"{base_url}/api/v1/auth/oidc/login", fill_in)


def _wait_for_text(page: Any, element_id: str) -> None:
    """Waits until the element has text; null-safe because the tab passes through the provider's pages on the
    way, where the element does not exist (a plain getElementById(...).textContent throws there)."""
    page.wait_for_function(f"(document.getElementById('{element_id}')?.textContent ?? '').length > 0")


def test_sign_in_with_sso_lands_on_the_worklist(sso_service: SsoService, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{sso_service.base_url}/")
    button = page.locator("#sso-login")
    button.wait_for(state="visible")
    assert button.inner_text() == "Sign in with Hospital SSO"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "login-sso.png"))
    _as_user(page, sso_service.base_url, "alice")
    button.click()
    page.wait_for_selector("#worklist-view:not([hidden])")
    assert page.locator("#user-chip").inner_text() == "alice · radiologist"
    assert page.url == f"{sso_service.base_url}/"  # the fragment is gone from the address bar
    assert page.evaluate("sessionStorage.getItem('medvlm.token')")
    # the worklist loads with the stored token (no study in this service)
    _wait_for_text(page, "worklist-count")
    assert page.locator("#worklist-count").inner_text() == "0 studies"
    context.close()


@pytest.mark.parametrize(("user", "mode", "reason"), [
    ("carol", "normal", "in no group that maps to a MedVLM role"),  # in no mapped group: 403
    ("alice", "wrong_audience", "the ID token is for another audience"),  # a refused ID token: 401
])
def test_a_refused_sign_on_shows_why(sso_service: SsoService, browser: Any, user: str, mode: str,
                                     reason: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    sso_service.provider.set_mode(mode)
    try:
        page.goto(f"{sso_service.base_url}/")
        _as_user(page, sso_service.base_url, user)
        page.click("#sso-login")
        _wait_for_text(page, "login-error")
    finally:
        sso_service.provider.set_mode("normal")
    message = page.locator("#login-error").inner_text()
    assert message.startswith("Single sign-on failed:") and reason in message, message
    assert page.locator("#worklist-view").is_hidden() and "#" not in page.url
    assert page.evaluate("sessionStorage.getItem('medvlm.token')") is None
    page.screenshot(path=str(ARTIFACTS / f"login-sso-refused-{user}-{mode}.png"))
    context.close()


def test_a_crafted_link_does_not_sign_anyone_in(sso_service: SsoService, browser: Any) -> None:
    """A session handed over in a link this tab did not start (login CSRF) is dropped, not stored."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{sso_service.base_url}/#access_token=someone-elses&username=mallory&role=admin")
    _wait_for_text(page, "login-error")
    assert "did not start that sign-on" in page.locator("#login-error").inner_text()
    assert page.evaluate("sessionStorage.getItem('medvlm.token')") is None and "#" not in page.url
    context.close()


def test_the_password_login_still_works_beside_sso(sso_service: SsoService, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{sso_service.base_url}/")
    page.fill("#username", USERNAME)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#worklist-view:not([hidden])")
    assert page.locator("#user-chip").inner_text() == f"{USERNAME} · radiologist"
    context.close()

