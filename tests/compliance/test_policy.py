"""The role -> permission table, and that the access-policy document states the same table."""

from __future__ import annotations

from pathlib import Path

import pytest

from medvlm.compliance.errors import PermissionDeniedError
from medvlm.compliance.policy import Permission, Role, allowed, permissions, policy_table, require

DOC = Path(__file__).resolve().parents[2] / "compliance" / "docs" / "access_policy.md"

# Expected grants, written out apart from the code (R radiologist, S researcher, A admin, I integration).
EXPECTED = {
    "study:read": "RI", "study:upload": "RI", "report:read": "RI", "report:write": "R", "job:read": "RAI",
    "corrections:read": "SA", "admin": "A", "metrics": "AI",
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
    ("admin", "report:write", "role 'admin' lacks permission 'report:write'"),
    ("admin", "study:read", "role 'admin' lacks permission 'study:read'"),
    ("integration", "report:write", "role 'integration' lacks permission 'report:write'"),
    ("superuser", "study:read", "unknown role 'superuser'"),
])
def test_require_refuses_with_a_clear_message(role: str, permission: str, message: str) -> None:
    with pytest.raises(PermissionDeniedError, match=message):
        require(role, permission)


def test_unknown_role_or_permission_holds_nothing() -> None:
    assert not allowed("superuser", "study:read")
    assert not allowed("admin", "delete:everything")
    require("radiologist", Permission.REPORT_WRITE)
    assert Permission.REPORT_WRITE in permissions("radiologist")


def test_access_policy_document_matches_the_code() -> None:
    text = DOC.read_text(encoding="utf-8").split("## Permissions", 1)[1].split("\n## ", 1)[0]
    for permission, roles in policy_table():
        grants = " | ".join("yes" if r.value in roles else "-" for r in Role) + " |"
        rows = [line for line in text.splitlines() if line.startswith(f"| `{permission}` |")]
        assert len(rows) == 1, f"access_policy.md must have one row for {permission}"
        assert rows[0].endswith(grants), f"access_policy.md contradicts the code: {rows[0]} vs {grants}"


def test_the_service_enforces_this_policy() -> None:
    """The route dependencies read ``service.auth.policy``: it must grant exactly what this table does."""
    from medvlm.service.auth import policy as service_policy

    enforced = {str(p.value): sorted(str(r) for r in roles) for p, roles in service_policy.GRANTS.items()}
    documented = {p: sorted(roles) for p, roles in policy_table()}
    assert enforced == documented
