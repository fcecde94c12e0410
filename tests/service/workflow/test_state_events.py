"""Every workflow event in every report state, allowed or refused (pynetdicom-style FSM table).

The expected table is written out here, independently of ``service.workflow.state.TRANSITIONS``, and is
checked both on the pure state machine and on the database operations (SQLite and PostgreSQL).
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from medvlm.db import get_engine
from medvlm.findings import Finding
from medvlm.service.db.tables import Addendum, Report, ReportVersion, StudyState, utc
from medvlm.service.errors import WorkflowError
from medvlm.service.workflow import reports as wf
from medvlm.service.workflow.draft_output import DraftOutput
from medvlm.service.workflow.state import Event, ReportState, next_state

REFUSED = None
# state -> event -> resulting state (None: refused with a WorkflowError, nothing written)
EXPECTED = {
    "draft": {
        "redraft": "draft",
        "edit": "in_review",
        "regenerate": "in_review",
        "sign": "signed",
        "addendum": REFUSED,
    },
    "in_review": {
        "redraft": REFUSED,
        "edit": "in_review",
        "regenerate": "in_review",
        "sign": "signed",
        "addendum": REFUSED,
    },
    "signed": {
        "redraft": REFUSED,
        "edit": REFUSED,
        "regenerate": REFUSED,
        "sign": REFUSED,
        "addendum": "signed",
    },
}
CASES = [(state, event, after) for state, row in EXPECTED.items() for event, after in row.items()]


def test_table_covers_every_state_and_event() -> None:
    assert set(EXPECTED) == {s.value for s in ReportState}
    assert all(set(row) == {e.value for e in Event} for row in EXPECTED.values())


@pytest.mark.parametrize(("state", "event", "after"), CASES)
def test_state_machine(state: str, event: str, after: str | None) -> None:
    if after is REFUSED:
        with pytest.raises(WorkflowError, match=f"cannot {event} a report in state '{state}'"):
            next_state(state, Event(event))
    else:
        assert next_state(state, Event(event)) == after


def _draft(text: str = "Heart is enlarged.") -> DraftOutput:
    return DraftOutput(
        findings=[Finding("cardiomegaly", probability=0.8)],
        findings_text=text,
        impression="Cardiomegaly.",
        model_version="v1",
    )


def _report_in(session: Session, state: str) -> Report:
    report = wf.save_draft(session, "1.2.840.1", _draft(), author="model:v1")
    if state in ("in_review", "signed"):
        wf.edit(
            session,
            report,
            base_version=report.version,
            author="rad",
            findings_text="Edited.",
            impression=None,
            findings=None,
        )
    if state == "signed":
        wf.sign(session, report, author="rad")
    session.commit()
    assert report.status == state
    return report


def _apply(session: Session, report: Report, event: str) -> None:
    if event == "redraft":
        wf.save_draft(session, report.study_instance_uid, _draft("Redrafted."), author="model:v2")
    elif event == "edit":
        wf.edit(
            session,
            report,
            base_version=report.version,
            author="rad",
            findings_text="Again.",
            impression=None,
            findings=None,
        )
    elif event == "regenerate":
        wf.regenerate(session, report, _draft("Regenerated."), base_version=report.version, author="rad")
    elif event == "sign":
        wf.sign(session, report, author="rad")
    else:
        wf.add_addendum(session, report, text="Addendum.", author="rad")


def _snapshot(session: Session, report_id: str) -> tuple:
    report = session.get(Report, report_id)
    versions = session.exec(select(ReportVersion).where(ReportVersion.report_id == report_id)).all()
    addenda = session.exec(select(Addendum).where(Addendum.report_id == report_id)).all()
    return (
        report.status,
        report.version,
        report.findings_text,
        utc(report.signed_at),
        len(versions),
        len(addenda),
    )


@pytest.mark.parametrize(("state", "event", "after"), CASES)
def test_database_operations(database_url: str, state: str, event: str, after: str | None) -> None:
    engine = get_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        report = _report_in(session, state)
        report_id = report.id
        before = _snapshot(session, report_id)
    with Session(engine, expire_on_commit=False) as session:
        report = wf.lock_report(session, report_id)
        if after is REFUSED:
            with pytest.raises(WorkflowError):
                _apply(session, report, event)
            session.rollback()
        else:
            _apply(session, report, event)
            session.commit()
    with Session(engine) as session:
        now = _snapshot(session, report_id)
        study = session.get(StudyState, "1.2.840.1")
        if after is REFUSED:
            assert now == before
        else:
            assert now[0] == after
            assert (
                study.status == {"draft": "draft_ready", "in_review": "in_review", "signed": "signed"}[after]
            )
            if event == "addendum":
                assert now[5] == before[5] + 1 and now[1:4] == before[1:4]  # the signed text is untouched
            else:
                assert now[1] == before[1] + 1 and now[4] == before[4] + 1  # one new version row
