"""How close a draft came to saying otherwise: the smallest gap between a finding's probability and its
presence threshold. A small gap means one finding's call was nearly the other way, so a clinician's
correction of that study teaches the model most (uncertainty sampling, the worklist's ``order=uncertainty``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from medvlm.findings import Finding


def decision_margin(findings: Iterable[Finding], threshold: Callable[[str], float]) -> float | None:
    """min |probability - threshold(label)| over findings with a probability; None when none has one."""
    gaps = [abs(float(f.probability) - threshold(f.label)) for f in findings if f.probability is not None]
    return round(min(gaps), 6) if gaps else None
