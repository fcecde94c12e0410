"""A study's detail (patient, status, series and their instances) in two queries, visibility included."""

from __future__ import annotations

from sqlmodel import Session, col, select

from medvlm.db.models import Instance, Patient, Series, Study
from medvlm.errors import NotFoundError
from service.api.deps import Principal
from service.db.tables import Report, StudyState
from service.schemas.studies import InstancePublic, PatientPublic, SeriesPublic, StudyDetail
from service.studies.access import sees_state


def study_detail(session: Session, principal: Principal, study_uid: str) -> StudyDetail:
    """The study as the viewer needs it; a study the caller may not see is "not found", as elsewhere."""
    report_id = (
        select(Report.id).where(col(Report.study_instance_uid) == study_uid).limit(1).scalar_subquery()
    )
    found = session.exec(
        select(Study, Patient, StudyState, report_id)
        .join(Patient, col(Patient.id) == col(Study.patient_pk))
        .outerjoin(StudyState, col(StudyState.study_instance_uid) == col(Study.study_instance_uid))
        .where(col(Study.study_instance_uid) == study_uid)
    ).first()
    if found is None or not sees_state(principal, found[2]):
        raise NotFoundError(f"study {study_uid} not found")
    study, patient, state, report = found
    rows = session.exec(
        select(Series, Instance)
        .outerjoin(Instance, col(Instance.series_instance_uid) == col(Series.series_instance_uid))
        .where(col(Series.study_instance_uid) == study_uid)
        .order_by(
            col(Series.series_number),
            col(Series.series_instance_uid),
            col(Instance.instance_number),
            col(Instance.sop_instance_uid),
        )
    ).all()
    series: dict[str, SeriesPublic] = {}
    for s, instance in rows:
        entry = series.setdefault(
            s.series_instance_uid,
            SeriesPublic(
                series_instance_uid=s.series_instance_uid,
                modality=s.modality,
                description=s.description,
                instances=[],
            ),
        )
        if instance is not None:
            entry.instances.append(InstancePublic.model_validate(instance, from_attributes=True))
    return StudyDetail(
        study_instance_uid=study_uid,
        patient=PatientPublic(
            patient_id=patient.patient_id, name=patient.name, birth_date=patient.birth_date, sex=patient.sex
        ),
        study_date=study.study_date,
        study_time=study.study_time,
        accession_number=study.accession_number,
        description=study.description,
        referring_physician=study.referring_physician,
        status=state.status if state else "received",  # type: ignore[arg-type]
        critical=bool(state and state.critical),
        series=list(series.values()),
        report_id=report,
    )
