"""The worklist query: filters, critical first then newest, one page, in two SQL statements."""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, exists, false, func, or_
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
        conditions.append(or_(col(Study.accession_number) == q, col(Patient.patient_id) == q))
    if not sees_all_studies(principal.role):
        conditions.append(col(StudyState.source_api_key_id) == principal.api_key_id)

    # Count with only the joins the filters need: it scans every matching study.
    counted = select(func.count()).select_from(Study)
    if q:
        counted = counted.join(Patient, Patient.id == Study.patient_pk)  # type: ignore[arg-type]
    if status or not sees_all_studies(principal.role):
        counted = counted.outerjoin(StudyState, StudyState.study_instance_uid == Study.study_instance_uid)  # type: ignore[arg-type]
    total = session.exec(counted.where(*conditions)).one()
    rows = session.exec(
        select(Study, Patient, status_col, critical_col)
        .join(Patient, Patient.id == Study.patient_pk)  # type: ignore[arg-type]
        .outerjoin(StudyState, StudyState.study_instance_uid == Study.study_instance_uid)  # type: ignore[arg-type]
        .where(*conditions)
        .order_by(
            critical_col.desc(),
            Study.study_date.desc(),  # type: ignore[attr-defined]
            Study.created_at.desc(),  # type: ignore[attr-defined]
            Study.study_instance_uid,
        )
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    uids = [row[0].study_instance_uid for row in rows]
    modalities: dict[str, set[str]] = {uid: set() for uid in uids}
    report_ids: dict[str, str] = {}
    if uids:
        report_ids = dict(
            session.exec(
                select(Report.study_instance_uid, Report.id).where(Report.study_instance_uid.in_(uids))  # type: ignore[attr-defined]
            ).all()
        )
        for uid, mod in session.exec(
            select(Series.study_instance_uid, Series.modality).where(col(Series.study_instance_uid).in_(uids))
        ).all():  # type: ignore[attr-defined]
            if mod:
                modalities[uid].add(mod)
    items = [
        StudySummary(
            study_instance_uid=study.study_instance_uid,
            patient_id=patient.patient_id,
            patient_name=patient.name,
            accession_number=study.accession_number,
            study_date=study.study_date,
            description=study.description,
            modalities=sorted(modalities[study.study_instance_uid]),
            status=st,  # type: ignore[arg-type]  # a StudyStatus value from the database
            critical=bool(crit),
            report_id=report_ids.get(study.study_instance_uid),
        )
        for study, patient, st, crit in rows
    ]
    return WorklistPage(items=items, total=int(total), page=page, page_size=page_size)
