"""Errors of the compliance package (audit trail, de-identification, access policy)."""

from __future__ import annotations

from medvlm.errors import MedVLMError


class ComplianceError(MedVLMError):
    """Base class of the compliance errors."""


class AuditError(ComplianceError):
    """An audit row that cannot be written (bad arguments, missing chain head, database failure).

    The audited action must not go ahead: the caller's transaction is rolled back.
    """


class AuditChainBrokenError(ComplianceError):
    """``verify`` found an edited, deleted or reordered audit row."""


class DeidentificationError(ComplianceError):
    """A dataset or text that cannot be de-identified safely (e.g. burned-in annotation)."""


class PermissionDeniedError(ComplianceError):
    """A role that lacks the permission an action needs."""
