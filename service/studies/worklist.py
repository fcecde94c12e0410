"""The worklist query: filters, critical first then newest, one page, in one SQL statement.

Every study has a ``StudyState`` row carrying the sort keys (migration 0007), so the page is read from
an index in the worklist's order (``ix_study_states_worklist``, or ``..._status`` under a status
filter): O(offset + page) rows, not a sort of every study. Patient, report and modalities are joined to
those ``page_size`` rows only, and the total is a count on the same filters, in the same statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, func, literal_column, or_
from sqlmodel import Session, col, select

from medvlm.db.models import Patient, Series, Study
from service.api.deps import Principal
from service.db.tables import Report, StudyState
from service.schemas.studies import StudySummary, WorklistPage
from service.studies.access import visibility_conditions


def _dicom_date(value: date) -> str:
    return value.strftime("%Y%m%d")


def modalities_of(study_uid: Any) -> Any:
    """A scalar subquery: the modalities of the study ``study_uid`` (a column), backslash-joined."""
    return (
        select(func.aggregate_strings(col(Series.modality), literal_column("'\\'")))  # type: ignore[arg-type]
        .where(col(Series.study_instance_uid) == study_uid)
        .scalar_subquery()
    )


def split_modalities(joined: str | None) -> list[str]:
    return sorted({m for m in (joined or "").split("\\") if m})


def worklist(
    session: Session,
    principal: Principal,
    *,
    status: str | None,
    modality: str | None,
    date_from: date | None,
    date_to: date | None,
    q: str | None,
    page: int,
    page_size: int,
) -> WorklistPage:
    state_uid = col(StudyState.study_instance_uid)
    conditions = []
    if status:
        conditions.append(col(StudyState.status) == status)
    if modality:
        conditions.append(
            exists().where(
                and_(col(Series.study_instance_uid) == state_uid, col(Series.modality) == modality.upper())
            )
        )
    if date_from:
        conditions.append(col(StudyState.study_date) >= _dicom_date(date_from))
    if date_to:
        conditions.append(col(StudyState.study_date) <= _dicom_date(date_to))
    if q:
        conditions.append(
            exists().where(
                and_(
                    col(Study.study_instance_uid) == state_uid,
                    or_(
                        col(Study.accession_number) == q,
                        exists().where(
                            and_(col(Patient.id) == col(Study.patient_pk), col(Patient.patient_id) == q)
                        ),
                    ),
                )
            )
        )
    conditions += visibility_conditions(principal)

    page_q = (
        select(  # type: ignore[call-overload]  # labelled columns
            state_uid.label("uid"),
            col(StudyState.status).label("status"),
            col(StudyState.critical).label("critical"),
            col(StudyState.study_date).label("sort_date"),
            col(StudyState.study_created_at).label("sort_created"),
        )
        .where(*conditions)
        .order_by(  # exactly the index's order (service.db.tables._WORKLIST_ORDER)
            col(StudyState.critical).desc(),
            col(StudyState.study_date).desc(),
            col(StudyState.study_created_at).desc(),
            state_uid,
        )
        .offset((page - 1) * page_size)
        .limit(page_size)
        .subquery("page")
    )
    total_q = select(func.count()).select_from(StudyState).where(*conditions).scalar_subquery()
    report_id = (
        select(Report.id).where(col(Report.study_instance_uid) == page_q.c.uid).limit(1).scalar_subquery()
    )
    modalities = modalities_of(page_q.c.uid)
    rows: Sequence[Any] = session.exec(
        select(  # type: ignore[call-overload]  # labelled columns, read by name
            page_q,
            Study.accession_number,
            Study.study_date,
            Study.description,
            Patient.patient_id,
            Patient.name,
            report_id.label("report_id"),
            modalities.label("mods"),
            total_q.label("total"),
        )
        .join(Study, col(Study.study_instance_uid) == page_q.c.uid)
        .join(Patient, col(Patient.id) == col(Study.patient_pk))
        .order_by(
            page_q.c.critical.desc(), page_q.c.sort_date.desc(), page_q.c.sort_created.desc(), page_q.c.uid
        )
    ).all()
    if rows:
        total = int(rows[0].total)
    else:  # past the last page (or nothing matches): count on its own
        total = int(session.exec(select(total_q)).one())
    items = [
        StudySummary(
            study_instance_uid=row.uid,
            patient_id=row.patient_id,
            patient_name=row.name,
            accession_number=row.accession_number,
            study_date=row.study_date,
            description=row.description,
            modalities=split_modalities(row.mods),
            status=row.status,
            critical=bool(row.critical),
            report_id=row.report_id,
        )
        for row in rows
    ]
    return WorklistPage(items=items, total=total, page=page, page_size=page_size)
