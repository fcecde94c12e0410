"""Which role may do what, as the routes ask it. The table itself is the access policy's
(``medvlm.compliance.policy``), the one definition the policy document is checked against."""

from __future__ import annotations

from medvlm.compliance.policy import GRANTS, Permission, Role, allowed

__all__ = ["GRANTS", "Permission", "Role", "allowed", "sees_all_studies"]


def sees_all_studies(role: str) -> bool:
    """Integration keys see only the studies they sent (object-level check: others answer 404)."""
    return role != Role.INTEGRATION
