"""The service's single door to the audit trail (``compliance.audit.record``), in the caller's transaction.

If the audit write raises, the action's transaction rolls back with it: an action is never committed
without its audit row.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from compliance.audit import record


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    resource_type: str,
    resource_id: str,
    detail: dict[str, Any] | None = None,
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        detail=detail,
    )
