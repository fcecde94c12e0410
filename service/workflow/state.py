"""Report states and the events that move between them; anything not in the table is refused.

draft ──edit/regenerate──> in_review ──sign──> signed ──addendum──> signed
  │  └──redraft (a new model draft replaces an untouched one)
  └──sign (accept the draft as is)
"""

from __future__ import annotations

from enum import StrEnum

from medvlm.service.errors import WorkflowError
from medvlm.service.statuses import ReportStatus

ReportState = ReportStatus  # the workflow's name for the one definition in medvlm.service.statuses


class Event(StrEnum):
    REDRAFT = "redraft"
    EDIT = "edit"
    REGENERATE = "regenerate"
    SIGN = "sign"
    ADDENDUM = "addendum"


S, E = ReportState, Event
TRANSITIONS: dict[tuple[ReportState, Event], ReportState] = {
    (S.DRAFT, E.REDRAFT): S.DRAFT,
    (S.DRAFT, E.EDIT): S.IN_REVIEW,
    (S.DRAFT, E.REGENERATE): S.IN_REVIEW,
    (S.DRAFT, E.SIGN): S.SIGNED,
    (S.IN_REVIEW, E.EDIT): S.IN_REVIEW,
    (S.IN_REVIEW, E.REGENERATE): S.IN_REVIEW,
    (S.IN_REVIEW, E.SIGN): S.SIGNED,
    (S.SIGNED, E.ADDENDUM): S.SIGNED,
}

_WHY = {
    S.SIGNED: "the report is signed (FINAL) and immutable; add an addendum instead",
    S.DRAFT: "addenda are for signed reports; edit the draft instead",
    S.IN_REVIEW: "the report is under review; only a draft nobody has touched can be redrafted",
}


def next_state(state: str, event: Event) -> ReportState:
    current = ReportState(state)
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise WorkflowError(
            f"cannot {event.value} a report in state '{current.value}': {_WHY[current]}"
        ) from None
