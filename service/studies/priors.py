"""Prior studies: the same patient's earlier studies, fetched from the configured PACS and listed with
their signed report.

``fetch_priors`` asks the PACS (C-FIND by the study's Patient ID, exact match) for the patient's studies,
keeps the ``settings.priors_max`` most recent ones dated no later than this study, and retrieves (C-GET)
those not yet stored, through the ordinary ingest (same checks, same content-addressed store). A fetched
study gets the status ``prior``: it is there to compare against, so it is not queued for drafting (not
even by ``medvlm serve --draft-pending``), and the worklist shows it as a prior, not as work.
The network calls run outside any database transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from medvlm.db.models import Patient, Study
from medvlm.errors import ConfigError, NotFoundError
from medvlm.pacs.query import StudyMatch, find_studies, retrieve_study
from medvlm.service.db.tables import Report, StudyState, now_utc, utc
from medvlm.settings import Settings

PRIOR_STATUS = "prior"


@dataclass(frozen=True)
class PriorStudy:
    study_instance_uid: str
    study_date: str
    accession_number: str
    description: str
    report_status: str | None
    findings_text: str | None = None  # only for a signed report
    impression: str | None = None
    signed_by: str | None = None
    signed_at: datetime | None = None


@dataclass
class FetchResult:
    found: list[StudyMatch] = field(default_factory=list)  # priors the PACS holds (after the limit)
    retrieved: list[str] = field(default_factory=list)  # study UIDs fetched now
    already_stored: list[str] = field(default_factory=list)
    instances: int = 0


def _patient_id(session: Session, study: Study) -> str:
    patient = session.get(Patient, study.patient_pk)
    return patient.patient_id if patient else ""


def _is_prior(candidate_date: str, current: Study) -> bool:
    return not current.study_date or not candidate_date or candidate_date <= current.study_date


def fetch_priors(session: Session, settings: Settings, study_uid: str) -> FetchResult:
    """Query the PACS for ``study_uid``'s patient and store up to ``priors_max`` earlier studies."""
    from medvlm.dicom.ingest import ingest_bytes

    if not settings.pacs_host:
        raise ConfigError(
            "no PACS is configured for prior studies (set MEDVLM_PACS_HOST / _PORT / _AE_TITLE)"
        )
    study = session.get(Study, study_uid)
    if study is None:
        raise NotFoundError(f"study {study_uid} not found")
    patient_id = _patient_id(session, study)
    session.rollback()  # hold no transaction open across the network calls
    peer = {
        "called_ae": settings.pacs_ae_title,
        "calling_ae": settings.dicom_ae_title,
        "timeout": settings.pacs_timeout_seconds,
    }
    matches = [
        m
        for m in find_studies(settings.pacs_host, settings.pacs_port, patient_id=patient_id, **peer)
        if m.study_instance_uid != study_uid and _is_prior(m.study_date, study)
    ]
    result = FetchResult(found=matches[: settings.priors_max])
    for match in result.found:
        if session.get(Study, match.study_instance_uid) is not None:
            result.already_stored.append(match.study_instance_uid)
            continue
        for index, data in enumerate(
            retrieve_study(settings.pacs_host, settings.pacs_port, match.study_instance_uid, **peer)
        ):
            report = ingest_bytes(f"{match.study_instance_uid}/{index}.dcm", data, settings=settings)
            result.instances += report.ingested
        state = session.get(StudyState, match.study_instance_uid)
        if state is not None and state.status == "received":
            state.status, state.updated_at = PRIOR_STATUS, now_utc()
            session.add(state)
        result.retrieved.append(match.study_instance_uid)
    return result


def list_priors(session: Session, study_uid: str) -> list[PriorStudy]:
    """The stored studies of the same patient dated no later than ``study_uid``, newest first."""
    study = session.get(Study, study_uid)
    if study is None:
        raise NotFoundError(f"study {study_uid} not found")
    others = session.exec(
        select(Study)
        .where(Study.patient_pk == study.patient_pk, Study.study_instance_uid != study_uid)
        .order_by(col(Study.study_date).desc(), col(Study.study_instance_uid))
    ).all()
    priors = []
    for other in others:
        if not _is_prior(other.study_date, study):
            continue
        report = session.exec(
            select(Report).where(Report.study_instance_uid == other.study_instance_uid)
        ).first()
        signed = report is not None and report.status == "signed"
        priors.append(
            PriorStudy(
                study_instance_uid=other.study_instance_uid,
                study_date=other.study_date,
                accession_number=other.accession_number,
                description=other.description,
                report_status=report.status if report else None,
                findings_text=report.findings_text if signed and report else None,
                impression=report.impression if signed and report else None,
                signed_by=report.signed_by if signed and report else None,
                signed_at=utc(report.signed_at) if signed and report else None,
            )
        )
    return priors
