"""Writing the DICOM index: Patient / Study / Series / Instance rows and ingest events.

Rows are only added for files already durable in the store. Get-or-create is done by primary key (or
the patient's unique pair); when another process inserts the same row first, the commit fails with
an ``IntegrityError`` and the caller retries the file, which then finds the row.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from medvlm.db.models import IngestEvent, Instance, Patient, Series, Study
from medvlm.dicom.validate import InstanceInfo


def stored_hashes(session: Session, sop_uids: list[str]) -> dict[str, str]:
    """SOP Instance UID -> sha256 for those of ``sop_uids`` already indexed."""
    if not sop_uids:
        return {}
    rows = session.exec(select(Instance.sop_instance_uid, Instance.sha256)
                        .where(col(Instance.sop_instance_uid).in_(sop_uids))).all()
    return {uid: sha for uid, sha in rows}


def _patient_pk(session: Session, info: InstanceInfo) -> int:
    key = (info.patient["patient_id"], info.patient["issuer"])
    query = select(Patient.id).where(Patient.patient_id == key[0], Patient.issuer == key[1])
    found = session.exec(query).first()
    if found is not None:
        return found
    patient = Patient(**info.patient)
    session.add(patient)
    session.flush()  # the study row needs the id
    assert patient.id is not None
    return patient.id


def add_instance(session: Session, info: InstanceInfo, *, sha256: str, path: str, size: int,
                 source: str) -> None:
    """Index one stored instance (and its study, series, patient when new) plus a ``stored`` event."""
    study_uid = info.study["study_instance_uid"]
    if session.get(Study, study_uid) is None:
        session.add(Study(patient_pk=_patient_pk(session, info), **info.study))
        session.flush()
    series_uid = info.series["series_instance_uid"]
    if session.get(Series, series_uid) is None:
        session.add(Series(study_instance_uid=study_uid, **info.series))
        session.flush()
    session.add(Instance(series_instance_uid=series_uid, sha256=sha256, path=path, size_bytes=size,
                         **info.instance))
    session.add(IngestEvent(kind="stored", sop_instance_uid=info.sop_instance_uid, sha256=sha256,
                            source=source))


def add_conflict(session: Session, *, sop_uid: str, sha256: str, stored_sha256: str, source: str) -> None:
    detail = f"already stored with sha256 {stored_sha256}; these bytes were not stored"
    session.add(IngestEvent(kind="conflict", sop_instance_uid=sop_uid, sha256=sha256, source=source,
                            detail=detail))
