"""Append-only, hash-chained audit trail: ``record`` in the caller's transaction, ``verify`` the chain."""

from compliance.audit.chain import VerifyResult, record, verify
from compliance.audit.tables import AuditEvent, AuditHead

__all__ = ["AuditEvent", "AuditHead", "VerifyResult", "record", "verify"]
