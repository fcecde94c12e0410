"""Writing the DICOM index: Patient / Study / Series / Instance rows and ingest events.

Rows are only added for files already durable in the store. A batch is written with a few bulk
statements (ORM objects cost more than the decoding we are measured against). Get-or-create is by
primary key (or the patient's unique pair); when another process inserts the same row first, the
commit fails with an ``IntegrityError`` and the caller retries the file, which then finds the row.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert
from sqlmodel import Session, col, select

from medvlm.db.models import IngestEvent, Instance, Patient, Series, Study, now_utc
from medvlm.dicom.validate import InstanceInfo


@dataclass(frozen=True)
class NewInstance:
    info: InstanceInfo
    sha256: str
    path: str
    size: int
    source: str


def stored_hashes(session: Session, sop_uids: list[str]) -> dict[str, str]:
    """SOP Instance UID -> sha256 for those of ``sop_uids`` already indexed."""
    if not sop_uids:
        return {}
    rows = session.exec(select(Instance.sop_instance_uid, Instance.sha256)
                        .where(col(Instance.sop_instance_uid).in_(sop_uids))).all()
    return {uid: sha for uid, sha in rows}


def _existing(session: Session, column: object, values: set[str]) -> set[str]:
    if not values:
        return set()
    rows = session.exec(select(column).where(col(column).in_(sorted(values)))).all()  # type: ignore[call-overload]
    return {str(value) for value in rows}


def _patient_pk(session: Session, info: InstanceInfo, cache: dict[tuple[str, str], int]) -> int:
    key = (info.patient["patient_id"], info.patient["issuer"])
    if key in cache:
        return cache[key]
    found = session.exec(select(Patient.id).where(Patient.patient_id == key[0], Patient.issuer == key[1])
                         ).first()
    if found is None:
        patient = Patient(**info.patient)
        session.add(patient)
        session.flush()  # the study row needs the id
        found = patient.id
    assert found is not None
    cache[key] = found
    return found


def add_instances(session: Session, items: list[NewInstance]) -> None:
    """Index stored instances (and their studies, series, patients when new) plus ``stored`` events."""
    if not items:
        return
    now = now_utc()
    known_studies = _existing(session, Study.study_instance_uid, {i.info.study_instance_uid for i in items})
    known_series = _existing(session, Series.series_instance_uid,
                             {i.info.series["series_instance_uid"] for i in items})
    patients: dict[tuple[str, str], int] = {}
    studies, series, instances, events = [], [], [], []
    for item in items:
        info = item.info
        if info.study_instance_uid not in known_studies:
            known_studies.add(info.study_instance_uid)
            patient_pk = _patient_pk(session, info, patients)
            studies.append({**info.study, "patient_pk": patient_pk, "created_at": now})
        series_uid = info.series["series_instance_uid"]
        if series_uid not in known_series:
            known_series.add(series_uid)
            series.append({**info.series, "study_instance_uid": info.study_instance_uid, "created_at": now})
        instances.append({**info.instance, "series_instance_uid": series_uid, "sha256": item.sha256,
                          "path": item.path, "size_bytes": item.size, "created_at": now})
        events.append({"kind": "stored", "sop_instance_uid": info.sop_instance_uid, "sha256": item.sha256,
                       "source": item.source, "detail": "", "created_at": now})
    for table, rows in ((Study, studies), (Series, series), (Instance, instances), (IngestEvent, events)):
        if rows:
            session.execute(insert(table), rows)  # parents first: foreign keys are checked per statement


def indexed_hashes(session: Session, hashes: list[str]) -> set[str]:
    """Those of ``hashes`` that some instance row points at."""
    if not hashes:
        return set()
    rows = session.exec(select(Instance.sha256).where(col(Instance.sha256).in_(hashes))).all()
    return set(rows)


def _who(patient: tuple[str, str]) -> str:
    pid, issuer = patient
    return f"patient {pid or '(no ID)'}" + (f" (issuer {issuer})" if issuer else "")


def identity_conflicts(session: Session, infos: list[InstanceInfo]) -> list[str | None]:
    """Per instance of ``infos``: why it cannot be indexed (None: it can), for instances whose study
    belongs to another patient or whose series belongs to another study (in the index, or earlier in
    ``infos``).

    Reusing the existing row would file one patient's image under another's study: a conflict, never a
    merge. The first to arrive keeps the UID; the other instance is recorded as a conflict, not stored.
    """
    if not infos:
        return []
    study_uids = sorted({i.study_instance_uid for i in infos})
    series_uids = sorted({str(i.series["series_instance_uid"]) for i in infos})
    study_owner: dict[str, tuple[str, str]] = {
        uid: (pid, issuer) for uid, pid, issuer in session.exec(
            select(Study.study_instance_uid, Patient.patient_id, Patient.issuer)
            .join(Patient, col(Patient.id) == col(Study.patient_pk))
            .where(col(Study.study_instance_uid).in_(study_uids))).all()}
    series_owner: dict[str, str] = {
        uid: study for uid, study in session.exec(
            select(Series.series_instance_uid, Series.study_instance_uid)
            .where(col(Series.series_instance_uid).in_(series_uids))).all()}
    clashes: list[str | None] = []
    for info in infos:
        patient = (str(info.patient["patient_id"]), str(info.patient["issuer"]))
        study, series = info.study_instance_uid, str(info.series["series_instance_uid"])
        owner = study_owner.get(study, patient)
        series_study = series_owner.get(series, study)
        if owner != patient:
            clashes.append(f"study {study} belongs to {_who(owner)}, this instance names {_who(patient)}")
        elif series_study != study:
            clashes.append(f"series {series} belongs to study {series_study}, this instance names study "
                           f"{study}")
        else:  # stored: the UIDs are now this patient's and this study's
            clashes.append(None)
            study_owner[study], series_owner[series] = patient, study
    return clashes


def add_conflict(session: Session, *, sop_uid: str, sha256: str, source: str, detail: str) -> None:
    session.add(IngestEvent(kind="conflict", sop_instance_uid=sop_uid, sha256=sha256, source=source,
                            detail=detail))
