"""Drafting: findings and a draft report for a study, the consistency check (hallucination guard), batch
drafting and redrafting from edited findings.

``draft_study`` / ``draft_batch`` live in ``medvlm.inference.draft`` (they import torch);
this package imports only the light consistency check eagerly."""

from typing import Any

from medvlm.inference.consistency import ConsistencyFlag, check_consistency

__all__ = ["ConsistencyFlag", "DraftResult", "check_consistency", "draft_batch", "draft_study"]


def __getattr__(name: str) -> Any:
    if name in ("DraftResult", "draft_batch", "draft_study"):
        from medvlm.inference import draft

        return getattr(draft, name)
    raise AttributeError(name)
