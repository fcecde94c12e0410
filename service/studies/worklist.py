"""The worklist query: filters, critical first then newest, one page, in one SQL statement.

The page is chosen in an inner query that touches only the sort keys (and counts every match with a
window function, so no second COUNT pass); patient, report and modalities are joined to those ``page_size``
rows only. Only an out-of-range page (no row to carry the count) costs a separate COUNT.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, false, func, literal_column, or_
from sqlmodel import Session, col, select

from medvlm.db.models import Patient, Series, Study
from service.api.deps import Principal
from service.auth.policy import sees_all_studies
from service.db.tables import Report, StudyState
from service.schemas.studies import StudySummary, WorklistPage


def _dicom_date(value: date) -> str:
    return value.strftime("%Y%m%d")


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
    status_col = func.coalesce(StudyState.status, "received")
    critical_col = func.coalesce(StudyState.critical, false())
    conditions = []
    if status:
        conditions.append(status_col == status)
    if modality:
        conditions.append(
            exists().where(
                and_(
                    col(Series.study_instance_uid) == col(Study.study_instance_uid),
                    col(Series.modality) == modality.upper(),
                )
            )
        )
    if date_from:
        conditions.append(col(Study.study_date) >= _dicom_date(date_from))
    if date_to:
        conditions.append(col(Study.study_date) <= _dicom_date(date_to))
    if q:
        conditions.append(
            or_(
                col(Study.accession_number) == q,
                exists().where(and_(col(Patient.id) == col(Study.patient_pk), col(Patient.patient_id) == q)),
            )
        )
    if not sees_all_studies(principal.role):
        conditions.append(col(StudyState.source_api_key_id) == principal.api_key_id)

    keys = (
        critical_col.desc(),
        col(Study.study_date).desc(),
        col(Study.created_at).desc(),
        col(Study.study_instance_uid),
    )
    page_q = (
        select(  # type: ignore[call-overload]  # labelled columns
            col(Study.study_instance_uid).label("uid"),
            col(Study.patient_pk).label("patient_pk"),
            col(Study.study_date).label("study_date"),
            col(Study.created_at).label("created_at"),
            col(Study.accession_number).label("accession_number"),
            col(Study.description).label("description"),
            status_col.label("status"),
            critical_col.label("critical"),
            func.count().over().label("total"),
        )
        .outerjoin(StudyState, StudyState.study_instance_uid == Study.study_instance_uid)  # type: ignore[arg-type]
        .where(*conditions)
        .order_by(*keys)
        .offset((page - 1) * page_size)
        .limit(page_size)
        .subquery("page")
    )
    report_id = (
        select(Report.id)
        .where(col(Report.study_instance_uid) == page_q.c.uid)
        .limit(1)
        .scalar_subquery()
    )
    modalities = (
        select(func.aggregate_strings(col(Series.modality), literal_column("'\\'")))  # type: ignore[arg-type]
        .where(col(Series.study_instance_uid) == page_q.c.uid)
        .scalar_subquery()
    )
    rows: Sequence[Any] = session.exec(
        select(  # type: ignore[call-overload]  # labelled columns, read by name
            page_q, Patient.patient_id, Patient.name, report_id.label("report_id"), modalities.label("mods")
        )
        .join(Patient, col(Patient.id) == page_q.c.patient_pk)
        .order_by(
            page_q.c.critical.desc(),
            page_q.c.study_date.desc(),
            page_q.c.created_at.desc(),
            page_q.c.uid,
        )
    ).all()
    if rows:
        total = int(rows[0].total)
    else:  # past the last page (or nothing matches): count on its own
        total = int(
            session.exec(
                select(func.count())
                .select_from(Study)
                .outerjoin(StudyState, StudyState.study_instance_uid == Study.study_instance_uid)  # type: ignore[arg-type]
                .where(*conditions)
            ).one()
        )
    items = [
        StudySummary(
            study_instance_uid=row.uid,
            patient_id=row.patient_id,
            patient_name=row.name,
            accession_number=row.accession_number,
            study_date=row.study_date,
            description=row.description,
            modalities=sorted({m for m in (row.mods or "").split("\\") if m}),
            status=row.status,
            critical=bool(row.critical),
            report_id=row.report_id,
        )
        for row in rows
    ]
    return WorklistPage(items=items, total=total, page=page, page_size=page_size)
