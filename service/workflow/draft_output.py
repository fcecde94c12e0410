"""What a drafting model hands the review workflow: findings, text, model version, guard flags, input hashes.

It lives with the workflow that stores it, so the jobs that produce drafts depend on the workflow and
never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medvlm.findings import Finding


@dataclass(frozen=True)
class DraftOutput:
    findings: list[Finding]
    findings_text: str
    impression: str
    model_version: str
    consistency_flags: list[dict[str, Any]] = field(default_factory=list)
    input_hashes: list[str] = field(default_factory=list)
    # smallest |probability - threshold| over the findings (medvlm.inference.uncertainty); None: unknown
    uncertainty: float | None = None
    # the views the intended-use gate accepted, [{kind: frontal|lateral, view_position}]; empty: not gated
    views: list[dict[str, str]] = field(default_factory=list)
