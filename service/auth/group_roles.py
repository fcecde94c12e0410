"""Groups -> role: the one mapping directory (LDAP) and OpenID Connect sign-on share.

A mapping is group -> role in the administrator's order; the first mapped group the user holds wins.
Names compare as normalised DNs (``CN=Radiology,OU=Groups`` == ``cn=radiology,ou=groups``), and plain
group names (what an IdP's ``groups`` claim usually holds) compare without regard to case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ldap3.core.exceptions import LDAPException
from ldap3.utils.dn import safe_dn

from medvlm.errors import ConfigError
from medvlm.service.auth.policy import Role


def normalise(group: str) -> str:
    try:
        return safe_dn(group).lower()
    except LDAPException:  # not a DN: a plain group name
        return group.strip().lower()


def role_for_groups(mapping: Mapping[str, str], groups: Iterable[str]) -> str | None:
    """The role of the first group of ``mapping`` (in its order) that ``groups`` holds; None if none."""
    held = {normalise(g) for g in groups}
    return next((role for group, role in mapping.items() if normalise(group) in held), None)


def check_mapping(mapping: Mapping[str, str], variable: str) -> None:
    """Refuse a mapping to a role that does not exist, at start-up rather than at someone's login."""
    unknown = {group: role for group, role in mapping.items() if role not in set(Role)}
    if unknown:
        raise ConfigError(
            f"{variable} maps to unknown role(s) {unknown}; expected one of {[r.value for r in Role]}"
        )
