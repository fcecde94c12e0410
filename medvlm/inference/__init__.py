"""Drafting: findings and a draft report for a study, the consistency check (hallucination guard), batch
drafting and redrafting from edited findings."""

from medvlm.inference.consistency import ConsistencyFlag, check_consistency

__all__ = ["ConsistencyFlag", "check_consistency"]
