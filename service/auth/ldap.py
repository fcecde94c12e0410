"""Directory sign-on: LDAP / Active Directory bind, with the directory's groups mapped to MedVLM roles.

How a login goes (the usual "search, then bind" of LDAP clients, which works for OpenLDAP and AD alike):
1. bind as the configured service account (or anonymously) and find the one entry matching
   ``ldap_user_filter`` (``(uid={username})``; AD: ``(sAMAccountName={username})``) under ``ldap_user_base``;
2. bind as that entry's DN with the password typed: the directory checks the password, we never see a hash;
3. read the user's groups (entries under ``ldap_group_base`` matching ``ldap_group_filter`` for the DN, plus
   the user's own ``memberOf`` where the directory keeps one, as AD does) and map them through
   ``ldap_group_roles`` (group DN -> role; the first mapped group in the mapping's order wins;
   ``service.auth.group_roles``, shared with OIDC sign-on).
A directory account is mirrored as a ``User`` row so that sessions and the audit trail work as for local
accounts; its role is refreshed at every login, and it is deactivated when it no longer has a mapped group.
Its local password hash is a marker no password verifies against. A local account of the same name wins:
a directory entry can never take over a local administrator.
"""

from __future__ import annotations

import math
import ssl
from dataclasses import dataclass

from ldap3 import NONE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from sqlmodel import Session, select

from medvlm.errors import ConfigError
from medvlm.service.audit import audit
from medvlm.service.auth.group_roles import check_mapping, role_for_groups
from medvlm.service.db.tables import User
from medvlm.service.errors import DirectoryUnavailableError, PermissionDeniedError
from medvlm.settings import Settings

DIRECTORY_PASSWORD_HASH = "!directory"  # not an argon2 hash: verify_password is always False for it


@dataclass(frozen=True)
class DirectoryUser:
    username: str
    dn: str
    groups: tuple[str, ...]
    role: str | None  # None: authenticated, but in no group that maps to a role


def check_directory_settings(settings: Settings) -> None:
    """Refuse a mapping to a role that does not exist, at start-up rather than at someone's login."""
    if not settings.ldap_url:
        return
    check_mapping(settings.ldap_group_roles, "MEDVLM_LDAP_GROUP_ROLES")
    if not settings.ldap_group_roles:
        raise ConfigError("MEDVLM_LDAP_URL is set but MEDVLM_LDAP_GROUP_ROLES is empty: nobody could sign on")
    if "{username}" not in settings.ldap_user_filter:
        raise ConfigError(
            f"MEDVLM_LDAP_USER_FILTER {settings.ldap_user_filter!r} lacks the {{username}} slot"
        )


def _server(settings: Settings) -> Server:
    # No schema read: one round trip less per login, and attribute names such as AD's memberOf are asked
    # for whether or not this directory defines them.
    # ldap3 checks no certificate unless told to: an ldaps:// directory must prove who it is, against
    # MEDVLM_LDAP_CA_FILE or the system's trusted CAs, before a password is sent to it.
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=settings.ldap_ca_file or None)
    return Server(settings.ldap_url, connect_timeout=settings.ldap_timeout_seconds, get_info=NONE, tls=tls)


def authenticate(settings: Settings, username: str, password: str) -> DirectoryUser | None:
    """The directory's answer for these credentials: None when the user or password is wrong."""
    if not password:  # an empty password is an LDAP "unauthenticated bind", which succeeds: never allow it
        return None
    server = _server(settings)
    timeout = max(1, math.ceil(settings.ldap_timeout_seconds))  # ldap3 packs it into SO_RCVTIMEO as an int
    try:
        with Connection(
            server,
            user=settings.ldap_bind_dn or None,
            password=settings.ldap_bind_password or None,
            auto_bind=True,
            receive_timeout=timeout,
            read_only=True,
        ) as lookup:
            user_filter = settings.ldap_user_filter.format(username=escape_filter_chars(username))
            lookup.search(settings.ldap_user_base, user_filter, attributes=["memberOf"], size_limit=2)
            entries = [e for e in lookup.response or [] if e.get("type") == "searchResEntry"]
            if len(entries) != 1:  # none, or an ambiguous filter: no sign-on either way
                return None
            dn = str(entries[0]["dn"])
            member_of = [str(g) for g in entries[0].get("attributes", {}).get("memberOf", [])]
            user = Connection(server, user=dn, password=password, receive_timeout=timeout, read_only=True)
            if not user.bind():
                return None
            user.unbind()
            group_filter = settings.ldap_group_filter.format(dn=escape_filter_chars(dn))
            lookup.search(
                settings.ldap_group_base or settings.ldap_user_base, group_filter, attributes=["cn"]
            )
            groups = [str(e["dn"]) for e in lookup.response or [] if e.get("type") == "searchResEntry"]
            groups += member_of
    except LDAPException as exc:
        raise DirectoryUnavailableError(
            f"the directory at {settings.ldap_url} did not answer: {exc}"
        ) from exc
    role = role_for_groups(settings.ldap_group_roles, groups)
    return DirectoryUser(username=username, dn=dn, groups=tuple(groups), role=role)


def sign_on(session: Session, settings: Settings, username: str, password: str) -> User | None:
    """The mirrored ``User`` for a directory login, or None for wrong credentials.

    Raises ``PermissionDeniedError`` (403) when the directory knows the user but maps none of their
    groups to a role (the mirror is deactivated), and ``DirectoryUnavailableError`` (503) when the
    directory does not answer.
    """
    found = authenticate(settings, username, password)
    if found is None:
        return None
    user = session.exec(select(User).where(User.username == username)).first()
    if found.role is None:
        if user is not None:
            user.active = False  # sessions it still holds end with it
            session.add(user)
        audit(
            session,
            actor=f"user:{username}",
            action="login.failure",
            resource_type="user",
            resource_id=username,
            detail={"reason": "no role in the directory", "groups": list(found.groups)},
        )
        session.commit()  # recorded even though the request fails
        raise PermissionDeniedError(
            f"{username} signed on to the directory but is in no group that maps to a "
            "MedVLM role (MEDVLM_LDAP_GROUP_ROLES)"
        )
    if user is None:
        user = User(username=username, password_hash=DIRECTORY_PASSWORD_HASH, role=found.role)
    user.role, user.active = found.role, True
    session.add(user)
    session.flush()
    return user


def is_directory_account(user: User | None) -> bool:
    return user is not None and user.password_hash == DIRECTORY_PASSWORD_HASH


def applies(settings: Settings, user: User | None) -> bool:
    """Directory sign-on is tried when it is configured and no local account has this name."""
    return bool(settings.ldap_url) and (user is None or is_directory_account(user))
