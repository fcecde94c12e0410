"""A study's detail (patient, status, series and their instances) in one query, visibility included."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlmodel import Session

from medvlm.db.models import Instance, Patient, Series, Study
from medvlm.dicom.study_order import INSTANCE_ORDER
from medvlm.errors import NotFoundError
from medvlm.service.auth.principal import Principal
from medvlm.service.db.tables import Report, StudyState
from medvlm.service.schemas.studies import InstancePublic, PatientPublic, SeriesPublic, StudyDetail
from medvlm.service.studies.access import sees_source

_study, _patient, _state = (t.__table__ for t in (Study, Patient, StudyState))  # type: ignore[attr-defined]
_series, _instance, _report = (t.__table__ for t in (Series, Instance, Report))  # type: ignore[attr-defined]
_UID = bindparam("study_uid")
_INSTANCE_FIELDS = tuple(InstancePublic.model_fields)
# Built once, as Core: the ORM's entities and building the statements cost more CPU than running them.
# One statement, one row per instance (series without instances and studies without series kept by the
# outer joins): a second round trip for the series cost about as much as the study's own columns repeated.
_STUDY_SERIES_AND_INSTANCES = (
    select(
        _study.c.study_date, _study.c.study_time, _study.c.accession_number, _study.c.description,
        _study.c.referring_physician, _patient.c.patient_id, _patient.c.name, _patient.c.birth_date,
        _patient.c.sex, _state.c.status, _state.c.critical, _state.c.source_api_key_id,
        _state.c.status_reason, _state.c.views,
        select(_report.c.id).where(_report.c.study_instance_uid == _UID).limit(1).scalar_subquery()
        .label("report_id"),
        _series.c.series_instance_uid, _series.c.modality, _series.c.description.label("series_description"),
        *(_instance.c[name] for name in _INSTANCE_FIELDS),
    )
    .join(_patient, _patient.c.id == _study.c.patient_pk)
    .outerjoin(_state, _state.c.study_instance_uid == _study.c.study_instance_uid)
    .outerjoin(_series, _series.c.study_instance_uid == _study.c.study_instance_uid)
    .outerjoin(_instance, _instance.c.series_instance_uid == _series.c.series_instance_uid)
    .where(_study.c.study_instance_uid == _UID)
    .order_by(*INSTANCE_ORDER)  # the same columns as _series / _instance: the one study order
)


def study_detail(session: Session, principal: Principal, study_uid: str) -> StudyDetail:
    """The study as the viewer needs it; a study the caller may not see is "not found", as elsewhere."""
    rows = session.connection().execute(_STUDY_SERIES_AND_INSTANCES, {"study_uid": study_uid}).all()
    found = rows[0] if rows else None
    if found is None or not sees_source(principal, found.status is not None, found.source_api_key_id):
        raise NotFoundError(f"study {study_uid} not found")
    series: dict[str, SeriesPublic] = {}
    for row in rows:
        if row.series_instance_uid is None:  # a study without series (outer join)
            continue
        entry = series.setdefault(
            row.series_instance_uid,
            SeriesPublic(
                series_instance_uid=row.series_instance_uid,
                modality=row.modality,
                description=row.series_description,
                instances=[],
            ),
        )
        if row.sop_instance_uid is not None:  # a series without instances (outer join)
            entry.instances.append(InstancePublic.model_validate(row, from_attributes=True))
    return StudyDetail(
        study_instance_uid=study_uid,
        patient=PatientPublic(
            patient_id=found.patient_id, name=found.name, birth_date=found.birth_date, sex=found.sex
        ),
        study_date=found.study_date,
        study_time=found.study_time,
        accession_number=found.accession_number,
        description=found.description,
        referring_physician=found.referring_physician,
        status=found.status or "received",
        critical=bool(found.critical),
        series=list(series.values()),
        report_id=found.report_id,
        status_reason=found.status_reason,
        views=found.views or [],
    )
