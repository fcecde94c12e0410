"""OpenID Connect sign-on as a browser meets it: the login page is told whether to offer the button
(``/ui/vocabulary.json``), and a callback asked for HTML (a browser's navigation) ends on the login page
with the session, or the refusal's reason, in the URL fragment (kept out of logs and Referer headers);
API clients still get the JSON of ``/auth/login``. The test provider as in ``test_oidc``."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from medvlm.settings import Settings, get_settings
from tests.service.auth import test_oidc as base
from tests.service.conftest import SECRET
from tests.support.oidc_provider import RunningProvider

API, _failures = base.API, base._failures
provider, fresh, app_settings = base.provider, base.fresh, base.app_settings  # the same fixtures

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def browser_sign_on(client: TestClient, provider: RunningProvider, user: str) -> httpx.Response:
    start = client.get(f"{API}/auth/oidc/login", follow_redirects=False, headers=HTML)
    assert start.status_code == 302, start.text
    callback = urlparse(provider.authorize(start.headers["location"], user)).query
    return client.get(f"{API}/auth/oidc/callback?{callback}", headers=HTML, follow_redirects=False)


def _fragment(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 303, answer.text
    location = urlparse(answer.headers["location"])
    assert (location.path, location.query) == ("/", "")  # the login page; nothing in the query string
    return {k: v[0] for k, v in parse_qs(location.fragment).items()}


def test_a_browser_lands_on_the_login_page_with_its_session(client: TestClient,
                                                            provider: RunningProvider) -> None:
    answer = browser_sign_on(client, provider, "alice")
    fields = _fragment(answer)
    assert (fields["username"], fields["role"]) == ("alice", "radiologist") and int(fields["expires_in"]) > 0
    me = client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {fields['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == "alice"
    assert 'medvlm_oidc=""' in answer.headers["set-cookie"]  # one sign-on, one callback


@pytest.mark.parametrize(("user", "mode", "reason"), [
    ("carol", "normal", "no group that maps to a MedVLM role"),
    ("alice", "wrong_audience", "for another audience"),
    ("mallory", "normal", "refused the sign-on: unknown user"),
])
def test_a_refusal_reaches_the_login_page_with_its_reason(
    client: TestClient, provider: RunningProvider, app: FastAPI, user: str, mode: str, reason: str
) -> None:
    provider.set_mode(mode)
    fields = _fragment(browser_sign_on(client, provider, user))
    assert "access_token" not in fields and reason in fields["sso_error"]
    assert reason in _failures(app)[0].detail["reason"]  # audited as before


@pytest.mark.parametrize("query", ["", "?code=x", "?state=y&code=z", "?error=access_denied"])
def test_bad_callbacks_from_a_browser_are_not_5xx(client: TestClient, provider: RunningProvider,
                                                  query: str) -> None:
    fields = _fragment(client.get(f"{API}/auth/oidc/callback{query}", headers=HTML, follow_redirects=False))
    assert fields["sso_error"]
    too_long = client.get(f"{API}/auth/oidc/callback?code={'x' * 5000}", headers=HTML)
    assert too_long.status_code == 422


def test_api_clients_still_get_json(client: TestClient, provider: RunningProvider) -> None:
    start = client.get(f"{API}/auth/oidc/login", follow_redirects=False)
    callback = urlparse(provider.authorize(start.headers["location"], "alice")).query
    answer = client.get(f"{API}/auth/oidc/callback?{callback}", headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.json()["user"]["role"] == "radiologist"


def test_the_login_page_is_told_whether_to_offer_sso(client: TestClient, app_settings: Settings,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sso = client.get("/ui/vocabulary.json").json()["sso"]
    assert sso == {"name": "SSO", "login": f"{API}/auth/oidc/login"}
    monkeypatch.setenv("MEDVLM_OIDC_DISPLAY_NAME", "St Elsewhere Keycloak")
    get_settings.cache_clear()
    from medvlm.service.app import create_app

    with TestClient(create_app(get_settings())) as named:
        assert named.get("/ui/vocabulary.json").json()["sso"]["name"] == "St Elsewhere Keycloak"
    for name in ("ISSUER", "DISPLAY_NAME"):
        monkeypatch.delenv(f"MEDVLM_OIDC_{name}")
    monkeypatch.setenv("MEDVLM_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    with TestClient(create_app(get_settings())) as off:
        assert off.get("/ui/vocabulary.json").json()["sso"] is None  # no button
