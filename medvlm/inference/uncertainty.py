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
from medvlm.inference.consistency import ConsistencyFlag


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


# A draft on a film stranger than 99 % of the model's training films says so: on the reference model that
# is 1 % of in-patient synthetic test films, 16 % of the unseen CT patient's and 76 % of real chest films
# (docs/performance.md). The findings are still drafted (a missed critical finding costs more than a
# doubtful one); the radiologist is told to read the film without leaning on them.
UNFAMILIAR_FILM = "unfamiliar_film"
UNFAMILIAR_BELOW = 0.01


def unfamiliar_film_flag(familiarity: float | None) -> ConsistencyFlag | None:
    """The flag a draft on an unfamiliar film carries first; None for a typical film or an unknown one."""
    if familiarity is None or familiarity >= UNFAMILIAR_BELOW:
        return None
    return ConsistencyFlag(
        label="film", kind=UNFAMILIAR_FILM,
        message=("This film is unlike the films the model was trained on: fewer than "
                 f"{100 * UNFAMILIAR_BELOW:g} % of them are as unusual (familiarity {familiarity:.2g}). Its "
                 "findings and text are unreliable here; read the film without leaning on the draft."),
    )


def flag_can_fire(calibration_films: int) -> bool:
    """Whether a fit calibrated on that many films can give a familiarity under the cut (its smallest value
    is 1 / (n + 1): with 99 or fewer, about 500 training films, no film is ever flagged)."""
    return 1 / (calibration_films + 1) < UNFAMILIAR_BELOW
