"""Which role may do what. One table, read by the route dependencies and by the role x endpoint tests."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    RADIOLOGIST = "radiologist"
    RESEARCHER = "researcher"
    ADMIN = "admin"
    INTEGRATION = "integration"


class Permission(StrEnum):
    STUDY_READ = "study:read"  # worklist, study detail, frames (identifiable patient data)
    STUDY_UPLOAD = "study:upload"
    REPORT_READ = "report:read"  # reports, versions, exports
    REPORT_WRITE = "report:write"  # edit, regenerate, sign, addenda: clinicians only
    JOB_READ = "job:read"
    CORRECTIONS_READ = "corrections:read"  # ORIGINAL/FINAL pairs for training
    ADMIN = "admin"  # users and API keys
    METRICS = "metrics"  # /ready and /metrics


R = Role
GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.STUDY_READ: frozenset({R.RADIOLOGIST, R.INTEGRATION}),
    Permission.STUDY_UPLOAD: frozenset({R.RADIOLOGIST, R.INTEGRATION}),
    Permission.REPORT_READ: frozenset({R.RADIOLOGIST, R.INTEGRATION}),
    Permission.REPORT_WRITE: frozenset({R.RADIOLOGIST}),
    Permission.JOB_READ: frozenset({R.RADIOLOGIST, R.INTEGRATION, R.ADMIN}),
    Permission.CORRECTIONS_READ: frozenset({R.RESEARCHER, R.ADMIN}),
    Permission.ADMIN: frozenset({R.ADMIN}),
    Permission.METRICS: frozenset({R.ADMIN, R.INTEGRATION}),
}


def allowed(role: str, permission: Permission) -> bool:
    return role in GRANTS[permission]


def sees_all_studies(role: str) -> bool:
    """Integration keys see only the studies they sent (object-level check: others answer 404)."""
    return role != Role.INTEGRATION
