"""Accounts (issue #19 item 11): login throttling and lockout, the password policy, no password in a 422,
changing a password, disabling a user, revoking a key, ending all sessions, the development secret and
token lifetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from medvlm.service.app import create_app
from medvlm.service.auth.lockout import MAX_FAILURES
from medvlm.service.auth.passwords import password_problem
from medvlm.service.db.tables import ApiKey, User
from medvlm.settings import DEFAULT_SECRET, Settings
from tests.service.conftest import SECRET
from tests.service.helpers import make_user

API = "/api/v1"
GOOD = "a long enough password"


def _login(client: TestClient, username: str, password: str = GOOD):  # type: ignore[no-untyped-def]
    return client.post(f"{API}/auth/login", json={"username": username, "password": password})


def _user(app: FastAPI, username: str, role: str = "radiologist") -> str:
    with Session(app.state.engine) as session:
        user = make_user(session, username, role, password=GOOD)
        session.commit()
        return user.id


def test_an_account_locks_after_repeated_failures(client: TestClient, app: FastAPI) -> None:
    _user(app, "target")
    for _ in range(MAX_FAILURES):
        assert _login(client, "target", "wrong password").status_code == 401
    locked = _login(client, "target")  # even the right password, while locked
    assert locked.status_code == 429 and "locked" in locked.json()["detail"]
    assert int(locked.headers["Retry-After"]) > 0
    _user(app, "bystander")
    assert _login(client, "bystander").status_code == 200  # one account's lock is not everyone's


def test_a_success_resets_the_count(client: TestClient, app: FastAPI) -> None:
    _user(app, "forgetful")
    for _ in range(MAX_FAILURES - 1):
        _login(client, "forgetful", "wrong password")
    assert _login(client, "forgetful").status_code == 200
    for _ in range(MAX_FAILURES - 1):
        _login(client, "forgetful", "wrong password")
    assert _login(client, "forgetful").status_code == 200


def test_password_spraying_from_one_address_is_refused(client: TestClient, app: FastAPI) -> None:
    app.state.login_limiter.limit = 8
    statuses = [_login(client, f"user{i}", "Winter2026!!").status_code for i in range(10)]
    assert statuses[:8] == [401] * 8 and statuses[8:] == [429, 429]


@pytest.mark.parametrize("password,problem", [
    ("aaaaaaaaaaaaaaaa", "too few different"), ("password1234", "commonly used"),
    ("Password!!!!", "commonly used"), ("123456789012", "sequence"),
    ("abcdefghijklmn", "sequence"), ("xx-newrad-xx-2026", "username"), ("short", "at least 12"),
])
def test_the_password_policy(password: str, problem: str) -> None:
    assert problem in (password_problem(password, username="newrad") or "")


def test_good_passwords_pass() -> None:
    for password in ("correct horse battery", "a long enough password", "Tr1cky-but-fine-42"):
        assert password_problem(password, username="newrad") is None


def test_a_422_never_echoes_the_password(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    secret = "password1234"  # refused by the policy
    body = {"username": "newrad", "password": secret, "role": "radiologist"}
    refused = client.post(f"{API}/users", json=body, headers=callers.admin)
    assert refused.status_code == 422 and secret not in refused.text and "commonly used" in refused.text
    bad_role = client.post(f"{API}/users", json={**body, "password": "Very-secret-9876", "role": "x"},
                           headers=callers.admin)
    assert bad_role.status_code == 422 and "Very-secret-9876" not in bad_role.text
    login = client.post(f"{API}/auth/login", json={"username": "x", "password": "Very-secret-9876", "y": 1})
    assert login.status_code == 422 and "Very-secret-9876" not in login.text


def test_change_password_ends_the_other_sessions(client: TestClient, app: FastAPI) -> None:
    _user(app, "changer")
    first = {"Authorization": f"Bearer {_login(client, 'changer').json()['access_token']}"}
    second = {"Authorization": f"Bearer {_login(client, 'changer').json()['access_token']}"}
    wrong = client.post(f"{API}/auth/password", json={"current_password": "nope", "new_password": "x" * 20},
                        headers=first)
    assert wrong.status_code == 401
    weak_body = {"current_password": GOOD, "new_password": "password1234"}
    weak = client.post(f"{API}/auth/password", json=weak_body, headers=first)
    assert weak.status_code == 422 and "password1234" not in weak.text
    new = "a brand new passphrase"
    changed = client.post(f"{API}/auth/password", json={"current_password": GOOD, "new_password": new},
                          headers=first)
    assert changed.status_code == 200 and changed.json() == {"ended": 1}
    assert client.get(f"{API}/auth/me", headers=first).status_code == 200
    assert client.get(f"{API}/auth/me", headers=second).status_code == 401
    assert _login(client, "changer").status_code == 401 and _login(client, "changer", new).status_code == 200


def test_end_all_sessions(client: TestClient, app: FastAPI) -> None:
    _user(app, "leaver")
    tokens = [{"Authorization": f"Bearer {_login(client, 'leaver').json()['access_token']}"}
              for _ in range(3)]
    ended = client.post(f"{API}/auth/sessions/end-all", headers=tokens[0])
    assert ended.status_code == 200 and ended.json() == {"ended": 3}
    assert all(client.get(f"{API}/auth/me", headers=t).status_code == 401 for t in tokens)


def test_disable_a_user_ends_its_sessions(client: TestClient, app: FastAPI, callers) -> None:  # type: ignore[no-untyped-def]
    user_id = _user(app, "departed")
    token = {"Authorization": f"Bearer {_login(client, 'departed').json()['access_token']}"}
    assert client.post(f"{API}/users/{user_id}/disable", headers=callers.radiologist).status_code == 403
    disabled = client.post(f"{API}/users/{user_id}/disable", headers=callers.admin)
    assert disabled.status_code == 200 and disabled.json()["sessions_ended"] == 1
    assert client.get(f"{API}/auth/me", headers=token).status_code == 401
    assert _login(client, "departed").status_code == 401
    with Session(app.state.engine) as session:
        admin = session.exec(select(User).where(User.username == "admin1")).one()
    assert client.post(f"{API}/users/{admin.id}/disable", headers=callers.admin).status_code == 409
    missing = "00000000-0000-0000-0000-000000000009"
    assert client.post(f"{API}/users/{missing}/disable", headers=callers.admin).status_code == 404


def test_revoke_an_api_key(client: TestClient, app: FastAPI, callers) -> None:  # type: ignore[no-untyped-def]
    assert client.get(f"{API}/auth/me", headers=callers.integration).status_code == 200
    with Session(app.state.engine) as session:
        key = session.exec(select(ApiKey).where(ApiKey.name == "integration")).one()
    assert client.delete(f"{API}/api-keys/{key.id}", headers=callers.integration).status_code == 403
    revoked = client.delete(f"{API}/api-keys/{key.id}", headers=callers.admin)
    assert revoked.status_code == 200 and revoked.json()["name"] == "integration"
    assert client.get(f"{API}/auth/me", headers=callers.integration).status_code == 401
    assert client.delete(f"{API}/api-keys/{key.id}", headers=callers.admin).json() == revoked.json()


def test_development_never_signs_with_the_public_default(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, environment="development"))
    secret = app.state.settings.secret_key
    assert secret != DEFAULT_SECRET and len(secret) >= 32
    assert (tmp_path / "development-secret.key").stat().st_mode & 0o077 == 0
    again = create_app(Settings(data_dir=tmp_path, environment="development"))  # another process
    assert again.state.settings.secret_key == secret


def test_a_token_forged_with_the_public_default_is_refused(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, environment="development"))
    from medvlm.db import migrate

    migrate(app.state.settings.resolved_database_url)
    with Session(app.state.engine) as session:
        user = make_user(session, "victim", "radiologist")
        session.commit()
        now = datetime.now(UTC)
        claims = {"sub": user.id, "sid": "x", "iat": now, "exp": now + timedelta(hours=1)}
        forged = jwt.encode(claims, DEFAULT_SECRET, algorithm="HS256")
    with TestClient(app) as client:
        response = client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_a_token_longer_lived_than_we_issue_is_refused(client: TestClient, app: FastAPI) -> None:
    user_id = _user(app, "longlived")
    now = datetime.now(UTC)
    token = jwt.encode({"sub": user_id, "sid": "s", "iat": now, "exp": now + timedelta(days=3650)}, SECRET,
                       algorithm="HS256")
    response = client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "lifetime" in response.json()["detail"]


@pytest.mark.parametrize("username", [" ", "a b", "x\ny", "../etc"])
def test_a_login_with_an_impossible_username_is_422(client: TestClient, username: str) -> None:
    """Found by the schemathesis run: a blank username made the failure's audit write fail (503)."""
    assert _login(client, username, "whatever").status_code == 422
