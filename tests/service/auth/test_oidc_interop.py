"""OIDC sign-on against a third-party provider: ``oidc-provider-mock`` (MIT; Flask + Authlib, RS256 ID
tokens; a provider built for testing relying parties, not ours), started on 127.0.0.1 by the test and
stopped by PID. Checks that the relying party works with an implementation it was not written beside:
discovery, JWKS, the code exchange with a client secret, nonce, custom group claims. (It does not
enforce PKCE, and its tokens cannot be made bad on purpose: ``test_oidc.py``'s provider does both.)"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from medvlm.compliance.audit import AuditEvent
from medvlm.service.auth import oidc_provider
from medvlm.settings import Settings, get_settings
from tests.service.conftest import SECRET
from tests.support.processes import free_port, stop_process
from tests.support.services import missing_service

API = "/api/v1"
REDIRECT = "http://testserver/api/v1/auth/oidc/callback"


def _start(*args: str) -> tuple[subprocess.Popen, str]:  # type: ignore[type-arg]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port",
                             str(port), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                return proc, issuer
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc, timeout=5)
            raise RuntimeError("oidc-provider-mock did not start")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    if importlib.util.find_spec("oidc_provider_mock") is None:  # skipped locally, a failure in CI
        missing_service("oidc-provider-mock (pip install -e '.[dev]')")
    proc, issuer = _start()
    try:
        claims = {"preferred_username": "alice", "groups": ["medvlm-radiologists"]}
        httpx.put(f"{issuer}/users/alice", json=claims, timeout=5).raise_for_status()
        yield issuer
    finally:
        stop_process(proc, timeout=10)


@pytest.fixture
def app_settings(settings: Settings, provider: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    oidc_provider.forget()
    values = {"ISSUER": provider, "CLIENT_ID": "medvlm", "CLIENT_SECRET": "s3cret",
              "REDIRECT_URI": REDIRECT, "GROUP_ROLES": json.dumps({"medvlm-radiologists": "radiologist"}),
              "LEEWAY_SECONDS": "0", "SCOPES": "openid profile"}
    for name, value in values.items():
        monkeypatch.setenv(f"MEDVLM_OIDC_{name}", value)
    monkeypatch.setenv("MEDVLM_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    return get_settings()


def test_sign_on_with_a_third_party_provider(client: TestClient, app: FastAPI, provider: str) -> None:
    start = client.get(f"{API}/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 302 and start.headers["location"].startswith(f"{provider}/oauth2/authorize")
    consent = httpx.post(start.headers["location"], data={"sub": "alice"}, timeout=5)  # the user logs in
    assert consent.status_code == 302, consent.text
    callback = urlparse(consent.headers["location"])
    assert f"http://{callback.netloc}{callback.path}" == REDIRECT
    answer = client.get(f"{API}/auth/oidc/callback?{callback.query}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"] == {"username": "alice", "role": "radiologist"}
    with Session(app.state.engine) as session:
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "login.success")).all()
        assert event.detail["via"] == "oidc" and event.detail["subject"] == "alice"
    replay = client.get(f"{API}/auth/oidc/callback?{callback.query}")  # the cookie is gone: refused
    assert replay.status_code == 401, replay.text
