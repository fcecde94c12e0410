"""The service's single door to the audit trail, in the caller's transaction.

The row is checked at once but written just before the transaction commits
(``compliance.audit.record_at_commit``): the audit lane's head lock is then held for one statement (on
PostgreSQL) and the commit only, not while the rest of the request runs. If the audit write raises, the
commit fails and the action's transaction rolls back with it: an action is never committed without its
audit row.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from medvlm.compliance.audit import append, record_at_commit


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    resource_type: str,
    resource_id: str,
    detail: dict[str, Any] | None = None,
) -> None:
    record_at_commit(
        session,
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        detail=detail,
        # Looked up at commit time: this module's ``append`` is the one seam every audited action passes.
        writer=lambda s, **fields: append(s, **fields),
    )
