"""Role-based access policy: which role may do what.

The access-policy document (``compliance/docs/access_policy.md``) states this table and a test compares
the two. This is the only definition: the service's route dependencies (``medvlm.service.auth.policy``)
and the CLI's role choices read it, so the enforced policy and the documented one cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum

from medvlm.compliance.errors import PermissionDeniedError


class Role(StrEnum):
    RADIOLOGIST = "radiologist"
    RESEARCHER = "researcher"
    ADMIN = "admin"
    INTEGRATION = "integration"


class Permission(StrEnum):
    STUDY_READ = "study:read"  # worklist, study detail, frames (identifiable patient data)
    STUDY_UPLOAD = "study:upload"  # upload DICOM / zip
    REPORT_READ = "report:read"  # reports, versions, exports
    REPORT_WRITE = "report:write"  # edit, regenerate, sign, addenda: clinicians only
    JOB_READ = "job:read"
    CORRECTIONS_READ = "corrections:read"  # ORIGINAL/FINAL pairs for training (de-identified)
    ADMIN = "admin"  # users and API keys
    METRICS = "metrics"  # /ready and /metrics


R = Role
GRANTS: dict[Permission, frozenset[Role]] = {
    # Identifiable patient data: the clinicians, and the integrations that sent it. Admins run the
    # system without reading patients' images or reports; researchers see de-identified data only.
    Permission.STUDY_READ: frozenset({R.RADIOLOGIST, R.INTEGRATION}),
    Permission.STUDY_UPLOAD: frozenset({R.RADIOLOGIST, R.INTEGRATION}),
    Permission.REPORT_READ: frozenset({R.RADIOLOGIST, R.INTEGRATION}),
    Permission.REPORT_WRITE: frozenset({R.RADIOLOGIST}),
    Permission.JOB_READ: frozenset({R.RADIOLOGIST, R.INTEGRATION, R.ADMIN}),
    Permission.CORRECTIONS_READ: frozenset({R.RESEARCHER, R.ADMIN}),
    Permission.ADMIN: frozenset({R.ADMIN}),
    Permission.METRICS: frozenset({R.ADMIN, R.INTEGRATION}),
}
POLICY: dict[Role, frozenset[Permission]] = {
    role: frozenset(p for p, roles in GRANTS.items() if role in roles) for role in Role
}


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise PermissionDeniedError(
            f"unknown role {role!r}; expected one of {[r.value for r in Role]}") from None


def permissions(role: Role | str) -> frozenset[Permission]:
    return POLICY[_role(role)]


def allowed(role: Role | str, permission: Permission | str) -> bool:
    """True when ``role`` holds ``permission``; an unknown role or permission holds nothing."""
    try:
        return Permission(permission) in POLICY[Role(role)]
    except ValueError:
        return False


def require(role: Role | str, permission: Permission | str) -> None:
    """Raise ``PermissionDeniedError`` naming the role and the missing permission."""
    perm = Permission(permission)
    if perm not in permissions(role):
        raise PermissionDeniedError(f"role {Role(role).value!r} lacks permission {perm.value!r}")


def policy_table() -> list[tuple[str, list[str]]]:
    """(permission, [roles holding it]) in declaration order, for documents and tests."""
    return [(perm.value, [role.value for role in Role if role in GRANTS[perm]]) for perm in Permission]
