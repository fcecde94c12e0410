"""The role -> permission table, and that the access-policy document states the same table."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.errors import PermissionDeniedError
from compliance.policy import Permission, Role, allowed, permissions, policy_table, require

DOC = Path(__file__).resolve().parents[2] / "compliance" / "docs" / "access_policy.md"

# Expected grants, written out apart from the code (R radiologist, S researcher, A admin, I integration).
EXPECTED = {
    "study:read": "RAI", "study:upload": "RI", "report:read": "RAI", "report:edit": "R", "report:sign": "R",
    "report:export": "RI", "job:read": "RSAI", "corrections:read": "SA", "model:manage": "SA",
    "user:manage": "A", "apikey:manage": "A", "audit:read": "A",
}
LETTER = {Role.RADIOLOGIST: "R", Role.RESEARCHER: "S", Role.ADMIN: "A", Role.INTEGRATION: "I"}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_role_permission_matrix(role: Role, permission: Permission) -> None:
    assert allowed(role, permission) is (LETTER[role] in EXPECTED[permission.value])
    assert allowed(role.value, permission.value) is allowed(role, permission)


def test_every_permission_is_in_the_expected_table() -> None:
    assert set(EXPECTED) == {p.value for p in Permission}


@pytest.mark.parametrize(("role", "permission", "message"), [
    ("researcher", "study:read", "role 'researcher' lacks permission 'study:read'"),
    ("admin", "report:sign", "role 'admin' lacks permission 'report:sign'"),
    ("integration", "report:edit", "role 'integration' lacks permission 'report:edit'"),
    ("superuser", "study:read", "unknown role 'superuser'"),
])
def test_require_refuses_with_a_clear_message(role: str, permission: str, message: str) -> None:
    with pytest.raises(PermissionDeniedError, match=message):
        require(role, permission)


def test_unknown_role_or_permission_holds_nothing() -> None:
    assert not allowed("superuser", "study:read")
    assert not allowed("admin", "delete:everything")
    require("radiologist", Permission.REPORT_SIGN)
    assert Permission.REPORT_SIGN in permissions("radiologist")


def test_access_policy_document_matches_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    for permission, roles in policy_table():
        row = f"| `{permission}` | " + " | ".join("yes" if r.value in roles else "-" for r in Role) + " |"
        assert row in text, f"access_policy.md is missing or contradicts: {row}"
