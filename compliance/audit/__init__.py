"""Append-only, hash-chained audit trail: ``record`` in the caller's transaction, ``verify`` the chain."""

from medvlm.compliance.audit.chain import append, record, record_at_commit
from medvlm.compliance.audit.tables import LANES, AuditEvent, AuditHead
from medvlm.compliance.audit.verify import VerifyResult, verify

__all__ = [
    "LANES", "AuditEvent", "AuditHead", "VerifyResult", "append", "record", "record_at_commit", "verify",
]
