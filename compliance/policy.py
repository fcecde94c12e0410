"""Role-based access policy: which role may do what. The service checks every route against this table.

Kept as data so that the access-policy document (``compliance/docs/access_policy.md``) and the service
cannot drift apart: a test renders the table and compares it with the document.
"""

from __future__ import annotations

from enum import StrEnum

from compliance.errors import PermissionDeniedError


class Role(StrEnum):
    RADIOLOGIST = "radiologist"
    RESEARCHER = "researcher"
    ADMIN = "admin"
    INTEGRATION = "integration"


class Permission(StrEnum):
    STUDY_READ = "study:read"  # worklist, study detail, frames (identifiable patient data)
    STUDY_UPLOAD = "study:upload"  # upload DICOM / zip, STOW
    REPORT_READ = "report:read"
    REPORT_EDIT = "report:edit"  # save edits, regenerate from findings
    REPORT_SIGN = "report:sign"  # sign, add addenda
    REPORT_EXPORT = "report:export"  # PDF, SR, encapsulated PDF, FHIR
    JOB_READ = "job:read"
    CORRECTIONS_READ = "corrections:read"  # ORIGINAL/FINAL pairs for training (de-identified)
    MODEL_MANAGE = "model:manage"  # register, promote model versions
    USER_MANAGE = "user:manage"
    APIKEY_MANAGE = "apikey:manage"
    AUDIT_READ = "audit:read"  # read and verify the audit trail


P = Permission
POLICY: dict[Role, frozenset[Permission]] = {
    # Clinicians read, edit, sign and export; they never manage accounts or models.
    Role.RADIOLOGIST: frozenset({P.STUDY_READ, P.STUDY_UPLOAD, P.REPORT_READ, P.REPORT_EDIT, P.REPORT_SIGN,
                                 P.REPORT_EXPORT, P.JOB_READ}),
    # Researchers see only de-identified corrections and the model registry, never identifiable studies.
    Role.RESEARCHER: frozenset({P.CORRECTIONS_READ, P.MODEL_MANAGE, P.JOB_READ}),
    # Admins run the system and audit it; they may read studies (support) but never edit or sign reports.
    Role.ADMIN: frozenset({P.STUDY_READ, P.REPORT_READ, P.JOB_READ, P.CORRECTIONS_READ, P.MODEL_MANAGE,
                           P.USER_MANAGE, P.APIKEY_MANAGE, P.AUDIT_READ}),
    # PACS/RIS integrations send studies and fetch finished results, nothing else.
    Role.INTEGRATION: frozenset({P.STUDY_UPLOAD, P.STUDY_READ, P.REPORT_READ, P.REPORT_EXPORT, P.JOB_READ}),
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
    """True when ``role`` holds ``permission``; an unknown role holds nothing."""
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
    return [(perm.value, [role.value for role in Role if perm in POLICY[role]]) for perm in Permission]
