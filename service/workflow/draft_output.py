"""What a drafting model hands the review workflow: findings, text, model version, guard flags, input hashes.

It lives with the workflow that stores it, so the jobs that produce drafts depend on the workflow and
never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medvlm.findings import Finding
from medvlm.inference.uncertainty import UNFAMILIAR_FILM

# The kind of the flag a draft made outside intended use carries first (at a radiologist's request): the
# review banner and the worklist's mark read it.
INTENDED_USE = "intended_use"
# Flags about how the draft came about and about the film, not its text: they stay through edits and
# regenerations of that draft (``workflow.reports``), which re-run the guard on the text only.
FILM_FLAG_KINDS = (INTENDED_USE, UNFAMILIAR_FILM)


def outside_intended_use_flags(flags: Any) -> list[dict[str, Any]]:
    """The intended-use override's flags among ``flags`` (a report's ``consistency_flags``)."""
    return _of_kinds(flags, (INTENDED_USE,))


def unfamiliar_film_flags(flags: Any) -> list[dict[str, Any]]:
    """The unfamiliar-film flags among ``flags`` (a report's ``consistency_flags``)."""
    return _of_kinds(flags, (UNFAMILIAR_FILM,))


def _of_kinds(flags: Any, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    if not isinstance(flags, list):
        return []
    return [f for f in flags if isinstance(f, dict) and f.get("kind") in kinds]


def keeping_film_flags(old: Any, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``new`` flags of an edited or regenerated draft, after the ``old`` draft's film flags (of a kind
    the old draft had, the old ones win: a regeneration from edited findings cannot judge the film)."""
    kept = _of_kinds(old, FILM_FLAG_KINDS)
    had = {f["kind"] for f in kept}
    return [*kept, *(f for f in new if f.get("kind") not in had)]


@dataclass(frozen=True)
class DraftOutput:
    findings: list[Finding]
    findings_text: str
    impression: str
    model_version: str
    consistency_flags: list[dict[str, Any]] = field(default_factory=list)
    input_hashes: list[str] = field(default_factory=list)
    # review priority: decision margin x familiarity (medvlm.inference.uncertainty); None: unknown
    uncertainty: float | None = None
    # the views the intended-use gate accepted, [{kind: frontal|lateral, view_position}]; empty: not gated
    views: list[dict[str, str]] = field(default_factory=list)
