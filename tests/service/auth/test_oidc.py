"""OpenID Connect sign-on against an OIDC provider started by the test on 127.0.0.1 (the test provider in
``tests.support.oidc_provider``: a real HTTP server in its own process, RS256 ID tokens, PKCE S256
enforced; stopped by PID). The service redirects, the "browser" (httpx) logs in at the provider and
comes back with a code; every bad token the provider can be made to issue is refused with its reason, 401,
and audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from medvlm.compliance.audit import AuditEvent
from medvlm.errors import ConfigError
from medvlm.service.auth import oidc, oidc_provider
from medvlm.service.auth.group_roles import role_for_groups
from medvlm.service.config import service_settings
from medvlm.service.db.tables import User
from medvlm.service.errors import AuthenticationError
from medvlm.settings import Settings, get_settings
from tests.service.conftest import SECRET
from tests.service.helpers import make_user
from tests.support.oidc_provider import RunningProvider, running_provider
from tests.support.processes import free_port

API = "/api/v1"
CLIENT_ID, CLIENT_SECRET = "medvlm", "medvlm-client-secret"
REDIRECT = "http://testserver/api/v1/auth/oidc/callback"
USERS = {
    "alice": {"preferred_username": "alice", "groups": ["medvlm-radiologists"]},
    "bob": {"preferred_username": "bob", "groups": ["staff", "Medvlm-Admins"]},  # names compare any case
    "carol": {"preferred_username": "carol", "groups": ["cleaners"]},
    "admin": {"preferred_username": "admin", "groups": ["medvlm-admins"]},  # a local account's name
}
ROLES = {"medvlm-admins": "admin", "medvlm-radiologists": "radiologist"}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProvider]:
    clients = {CLIENT_ID: {"secret": CLIENT_SECRET, "redirect_uris": [REDIRECT]}}
    with running_provider(clients, USERS, tmp_path_factory.mktemp("oidc")) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(provider: RunningProvider) -> Iterator[None]:
    oidc_provider.forget()
    provider.set_mode("normal")
    yield
    provider.set_mode("normal")


def _env(monkeypatch: pytest.MonkeyPatch, issuer: str, **more: str) -> Settings:
    values = {"ISSUER": issuer, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
              "REDIRECT_URI": REDIRECT, "GROUP_ROLES": json.dumps(ROLES), "LEEWAY_SECONDS": "0",
              "SCOPES": "openid profile groups", "TIMEOUT_SECONDS": "3", **more}
    for name, value in values.items():
        monkeypatch.setenv(f"MEDVLM_OIDC_{name}", value)
    monkeypatch.setenv("MEDVLM_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def app_settings(settings: Settings, provider: RunningProvider, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return _env(monkeypatch, provider.issuer)


def sign_on(client: TestClient, provider: RunningProvider, user: str) -> httpx.Response:
    start = client.get(f"{API}/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 302, start.text
    location = start.headers["location"]
    query = parse_qs(urlparse(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    callback = provider.authorize(location, user)
    return client.get(f"{API}/auth/oidc/callback?{urlparse(callback).query}")


def _failures(app: FastAPI) -> list[AuditEvent]:
    with Session(app.state.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == "login.failure")).all())


@pytest.mark.parametrize(("user", "role"), [("alice", "radiologist"), ("bob", "admin")])
def test_sign_on_maps_groups_to_roles(client: TestClient, provider: RunningProvider, app: FastAPI,
                                      user: str, role: str) -> None:
    answer = sign_on(client, provider, user)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user"] == {"username": user, "role": role}
    me = client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["role"] == role
    with Session(app.state.engine) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "login.success")).one()
        assert event.detail["via"] == "oidc" and event.detail["subject"] == f"sub-{user}"
        mirrored = session.exec(select(User).where(User.username == user)).one()
        assert mirrored.password_hash == oidc.OIDC_PASSWORD_HASH
    # the mirrored account has no password: local login cannot be used to get in
    assert client.post(f"{API}/auth/login", json={"username": user, "password": "!oidc"}).status_code == 401


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("wrong_issuer", "issued by another issuer"),
        ("wrong_audience", "for another audience"),
        ("expired", "has expired"),
        ("foreign_key", "signature does not verify"),
        ("no_nonce", "lacks a required claim"),
        ("wrong_nonce", "nonce is not this sign-on's"),
        ("alg_none", "algorithm we do not accept"),
    ],
)
def test_bad_id_tokens_are_refused_and_audited(client: TestClient, provider: RunningProvider, app: FastAPI,
                                               mode: str, reason: str) -> None:
    provider.set_mode(mode)
    answer = sign_on(client, provider, "alice")
    assert answer.status_code == 401 and reason in answer.json()["detail"], answer.text
    [event] = _failures(app)
    assert reason in event.detail["reason"] and event.detail["via"] == "oidc"
    with Session(app.state.engine) as session:
        assert session.exec(select(User).where(User.username == "alice")).first() is None


def test_replays_are_refused(client: TestClient, provider: RunningProvider, app_settings: Settings) -> None:
    start = client.get(f"{API}/auth/oidc/login", follow_redirects=False)
    cookie = client.cookies.get(oidc.COOKIE)
    callback = urlparse(provider.authorize(start.headers["location"], "alice")).query
    assert client.get(f"{API}/auth/oidc/callback?{callback}").status_code == 200
    # the same callback again (its cookie put back): the code was used
    client.cookies.clear()
    client.cookies.set(oidc.COOKIE, cookie)
    again = client.get(f"{API}/auth/oidc/callback?{callback}")
    assert again.status_code == 401 and "refused the code" in again.json()["detail"], again.text
    # an ID token presented twice for one sign-on: its nonce is accepted once
    client.cookies.clear()
    start = client.get(f"{API}/auth/oidc/login", follow_redirects=False)
    pending = jwt.decode(client.cookies.get(oidc.COOKIE), app_settings.secret_key, algorithms=["HS256"],
                         audience=oidc.COOKIE)
    code = parse_qs(urlparse(provider.authorize(start.headers["location"], "alice")).query)["code"][0]
    settings = service_settings(app_settings)
    token = oidc_provider.exchange_code(settings, code, pending["verifier"])["id_token"]
    assert oidc.validate_id_token(settings, token, pending["nonce"])["sub"] == "sub-alice"
    with pytest.raises(AuthenticationError, match="already used"):
        oidc.validate_id_token(settings, token, pending["nonce"])


def test_callback_must_match_the_sign_on(client: TestClient, provider: RunningProvider) -> None:
    start = client.get(f"{API}/auth/oidc/login", follow_redirects=False)
    query = parse_qs(urlparse(provider.authorize(start.headers["location"], "alice")).query)
    forged = client.get(f"{API}/auth/oidc/callback", params={"code": query["code"][0], "state": "forged"})
    assert forged.status_code == 401 and "state" in forged.json()["detail"]
    client.cookies.clear()
    no_cookie = client.get(f"{API}/auth/oidc/callback", params={"code": "x", "state": query["state"][0]})
    assert no_cookie.status_code == 401 and "cookie missing" in no_cookie.json()["detail"]
    lacking = client.get(f"{API}/auth/oidc/callback")
    assert lacking.status_code == 401 and "lacks the code" in lacking.json()["detail"]


def test_provider_refusal_and_unknown_user(client: TestClient, provider: RunningProvider) -> None:
    answer = sign_on(client, provider, "mallory")  # the provider answers error=access_denied
    assert answer.status_code == 401 and "refused the sign-on: unknown user" in answer.json()["detail"]


def test_no_role_and_local_names_are_403(client: TestClient, provider: RunningProvider, app: FastAPI) -> None:
    carol = sign_on(client, provider, "carol")
    assert carol.status_code == 403 and "no group that maps" in carol.json()["detail"]
    with Session(app.state.engine) as session:
        make_user(session, "admin", "admin", password="local-admin-pw-123")
        session.commit()
    clash = sign_on(client, provider, "admin")
    assert clash.status_code == 403 and "local or directory account" in clash.json()["detail"]
    assert [e.resource_id for e in _failures(app)] == ["carol", "admin"]
    assert _failures(app)[0].detail["groups"] == ["cleaners"]


def test_off_by_default_and_unreachable_provider(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    assert Settings.model_fields["oidc_issuer"].default == ""
    monkeypatch.setenv("MEDVLM_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    from medvlm.service.app import create_app

    with TestClient(create_app(get_settings())) as off:
        assert off.get(f"{API}/auth/oidc/login", follow_redirects=False).status_code == 404
    _env(monkeypatch, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with TestClient(create_app(get_settings())) as down:
        answer = down.get(f"{API}/auth/oidc/login", follow_redirects=False)
        assert answer.status_code == 503 and "did not answer" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"CLIENT_ID": ""}, "MEDVLM_OIDC_CLIENT_ID"),
        ({"ISSUER": "http://idp.hospital.example"}, "must be an https:// URL"),
        ({"GROUP_ROLES": json.dumps({"g": "superuser"})}, "unknown role"),
        ({"SCOPES": "profile"}, "lacks 'openid'"),
    ],
)
def test_bad_configuration_is_refused_at_start(monkeypatch: pytest.MonkeyPatch, settings: Settings,
                                               change: dict[str, str], message: str) -> None:
    configured = _env(monkeypatch, "http://127.0.0.1:1", **change)
    with pytest.raises(ConfigError, match=message):
        service_settings(configured)


def test_the_ldap_mapping_serves_when_oidc_has_none(monkeypatch: pytest.MonkeyPatch, settings: Settings,
                                                    tmp_path: Path) -> None:
    dn = "cn=Radiologists,ou=groups,dc=hospital,dc=example"
    configured = _env(monkeypatch, "http://127.0.0.1:1", GROUP_ROLES="{}")
    configured = configured.model_copy(update={"ldap_group_roles": {dn: "radiologist"}})
    mapping = oidc.group_roles(configured)
    assert role_for_groups(mapping, ["CN=radiologists,OU=Groups,DC=hospital,DC=example"]) == "radiologist"
    assert role_for_groups(mapping, ["cn=others,ou=groups,dc=hospital,dc=example"]) is None
