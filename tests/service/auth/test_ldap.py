"""Directory sign-on against a real OpenLDAP (slapd) started by the test: bind, group -> role, local."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from medvlm.compliance.audit import AuditEvent
from medvlm.errors import ConfigError
from medvlm.service.app import create_app
from medvlm.service.auth.ldap import authenticate
from medvlm.service.db.tables import User
from medvlm.service.errors import DirectoryUnavailableError
from medvlm.settings import Settings, get_settings
from tests.service.conftest import SECRET
from tests.service.helpers import make_user
from tests.support.processes import free_port
from tests.support.services import missing_service
from tests.support.slapd import (
    READER_DN,
    READER_PASSWORD,
    SUFFIX,
    SlapdServer,
    directory_ldif,
    running_slapd,
    slapd_available,
)

API = "/api/v1"
PEOPLE = {
    "alice": "alice-pw",
    "bob": "bob-pw",
    "carol": "carol-pw",
    "dave": "dave-dir-pw",
    "erin": "erin-pw",
    "x*": "star-pw",
}
GROUPS = {
    "radiologists": ["alice", "bob", "erin", "x*"],
    "researchers": ["bob"],
    "cleaners": ["carol"],
    "admins": ["dave"],
}
ROLES = {
    f"cn=researchers,ou=groups,{SUFFIX}": "researcher",
    f"cn=radiologists,ou=groups,{SUFFIX}": "radiologist",
    f"cn=admins,ou=groups,{SUFFIX}": "admin",
}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the directory's LDAPS identity)."""
    directory = tmp_path_factory.mktemp("ldap-tls")
    cert, key = directory / "ldap.crt", directory / "ldap.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture(scope="module")
def slapd(certificate: tuple[Path, Path]) -> Iterator[SlapdServer]:
    if not slapd_available():
        missing_service("OpenLDAP (slapd, slapadd, ldap-utils)")
    with running_slapd(directory_ldif(PEOPLE, GROUPS), tls=certificate) as server:
        yield server


def _directory_env(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    for name, value in {
        "LDAP_URL": url,
        "LDAP_BIND_DN": READER_DN,
        "LDAP_BIND_PASSWORD": READER_PASSWORD,
        "LDAP_USER_BASE": f"ou=people,{SUFFIX}",
        "LDAP_GROUP_BASE": f"ou=groups,{SUFFIX}",
        "LDAP_GROUP_ROLES": json.dumps(ROLES),
        "LDAP_TIMEOUT_SECONDS": "3",
    }.items():
        monkeypatch.setenv(f"MEDVLM_{name}", value)


@pytest.fixture
def app_settings(settings: Settings, slapd: SlapdServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MEDVLM_SECRET_KEY", SECRET)
    _directory_env(monkeypatch, slapd.url)
    get_settings.cache_clear()
    return get_settings()


def login(client: TestClient, username: str, password: str) -> tuple[int, dict]:
    response = client.post(f"{API}/auth/login", json={"username": username, "password": password})
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("username", "password", "status", "role"),
    [
        ("alice", "alice-pw", 200, "radiologist"),
        ("bob", "bob-pw", 200, "researcher"),  # in two mapped groups: the first in the mapping wins
        ("dave", "dave-dir-pw", 200, "admin"),
        ("alice", "wrong", 401, None),
        ("nobody", "alice-pw", 401, None),
        # Login names follow the account-name pattern: filter metacharacters never reach the directory
        # (the escaping in service.auth.ldap stays as a second line of defence).
        ("*", "alice-pw", 422, None),
        ("x*", "star-pw", 422, None),
        ("carol", "carol-pw", 403, None),  # authenticated, but in no mapped group
    ],
)
def test_directory_login(
    client: TestClient, username: str, password: str, status: int, role: str | None
) -> None:
    code, body = login(client, username, password)
    assert code == status, body
    if role is None:
        return
    assert body["user"] == {"username": username, "role": role}
    me = client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["role"] == role


def test_no_role_is_audited_and_named(client: TestClient, app: FastAPI) -> None:
    code, body = login(client, "carol", "carol-pw")
    assert code == 403 and "no group that maps to a MedVLM role" in body["detail"]
    with Session(app.state.engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "login.failure")).all()
        assert [e.resource_id for e in events] == ["carol"]
        assert session.exec(select(User).where(User.username == "carol")).first() is None  # no mirror made


def test_group_changes_follow_the_directory(client: TestClient, slapd: SlapdServer, app: FastAPI) -> None:
    code, body = login(client, "erin", "erin-pw")
    assert code == 200 and body["user"]["role"] == "radiologist"
    token = {"Authorization": f"Bearer {body['access_token']}"}
    erin = f"uid=erin,ou=people,{SUFFIX}"

    def move(group: str, change: str) -> None:
        slapd.modify(
            f"dn: cn={group},ou=groups,{SUFFIX}\nchangetype: modify\n{change}: member\nmember: {erin}\n"
        )

    move("radiologists", "delete")
    try:
        move("researchers", "add")
        code, body = login(client, "erin", "erin-pw")
        assert code == 200 and body["user"]["role"] == "researcher"
        move("researchers", "delete")
        assert login(client, "erin", "erin-pw")[0] == 403
        assert client.get(f"{API}/auth/me", headers=token).status_code == 401  # the mirror is disabled
        with Session(app.state.engine) as session:
            mirror = session.exec(select(User).where(User.username == "erin")).one()
            assert mirror.active is False and mirror.password_hash == "!directory"
    finally:  # the directory is shared by the module's tests
        move("radiologists", "add")


def test_local_account_wins_and_works_without_the_directory(
    client: TestClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(app.state.engine) as session:
        make_user(session, "dave", "radiologist", password="dave-local-password")
        session.commit()
    assert login(client, "dave", "dave-dir-pw")[0] == 401  # the directory cannot take over a local name
    code, body = login(client, "dave", "dave-local-password")
    assert code == 200 and body["user"]["role"] == "radiologist"
    monkeypatch.setenv("MEDVLM_LDAP_URL", f"ldap://127.0.0.1:{free_port()}")  # nothing listens there
    get_settings.cache_clear()
    with TestClient(create_app(get_settings()), raise_server_exceptions=False) as down:
        code, body = login(down, "alice", "alice-pw")
        assert code == 503 and "did not answer" in body["detail"]
        assert login(down, "dave", "dave-local-password")[0] == 200


def test_ldaps_needs_a_trusted_certificate(app_settings: Settings, slapd: SlapdServer,
                                           certificate: tuple[Path, Path]) -> None:
    over_tls = app_settings.model_copy(update={"ldap_url": slapd.ldaps_url})
    with pytest.raises(DirectoryUnavailableError, match="did not answer"):  # self-signed: not trusted
        authenticate(over_tls, "alice", "alice-pw")
    trusted = over_tls.model_copy(update={"ldap_ca_file": str(certificate[0])})
    found = authenticate(trusted, "alice", "alice-pw")
    assert found is not None and found.role == "radiologist"


def test_empty_password_never_binds(app_settings: Settings) -> None:
    assert authenticate(app_settings, "alice", "") is None  # LDAP would call it an anonymous bind


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"MEDVLM_LDAP_GROUP_ROLES": json.dumps({"cn=x": "superuser"})}, "unknown role"),
        ({"MEDVLM_LDAP_GROUP_ROLES": "{}"}, "nobody could sign on"),
        ({"MEDVLM_LDAP_USER_FILTER": "(uid=alice)"}, "lacks the {username} slot"),
    ],
)
def test_bad_directory_settings_refuse_to_start(
    app_settings: Settings, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], match: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match=match):
        create_app(get_settings())
