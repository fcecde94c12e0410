"""Which drafts a clinician's correction would teach most: the worklist's ``order=uncertainty`` key.

Two kinds of doubt. The decision margin: the smallest gap between a finding's probability and its presence
threshold; a small gap means one call was nearly the other way. Familiarity: how typical of the model's
training films the film is (``medvlm.model.novelty``); a film unlike anything the model trained on (a new
CT patient, a device or a finding it never saw) gets confident calls that no margin flags. The key is
their product, smaller first: a near call on a typical film and any call on a film stranger than every
training film both come early; a clear call on a typical film comes last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from medvlm.findings import Finding


def decision_margin(findings: Iterable[Finding], threshold: Callable[[str], float]) -> float | None:
    """min |probability - threshold(label)| over findings with a probability; None when none has one."""
    gaps = [abs(float(f.probability) - threshold(f.label)) for f in findings if f.probability is not None]
    return round(min(gaps), 6) if gaps else None


def review_priority(findings: Iterable[Finding], threshold: Callable[[str], float],
                    familiarity: float | None) -> float | None:
    """The decision margin scaled by the film's familiarity (1.0 when the model has no familiarity fit);
    None when no finding has a probability (a clinician's own findings)."""
    margin = decision_margin(findings, threshold)
    if margin is None:
        return None
    return round(margin * (1.0 if familiarity is None else familiarity), 6)
