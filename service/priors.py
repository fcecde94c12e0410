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

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlmodel import Session, col, select

from medvlm.db.models import Patient, Study
from medvlm.errors import ConfigError, MedVLMError, NotFoundError
from medvlm.pacs.query import StudyMatch, find_studies, retrieve_study
from medvlm.service.db.tables import Report, StudyState, now_utc, utc
from medvlm.service.workflow.draft_output import DraftOutput
from medvlm.settings import Settings, get_settings

PRIOR_STATUS = "prior"
log = logging.getLogger("medvlm.priors")


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


def _backend(settings: Settings) -> tuple[Callable[[str], list[StudyMatch]], Callable[[str], list[bytes]]]:
    """(find by patient ID, retrieve a study) over DICOMweb when configured, else DIMSE C-FIND / C-GET."""
    timeout = settings.pacs_timeout_seconds
    if settings.pacs_dicomweb_url:
        from medvlm.pacs.dicomweb_query import find_studies_web, retrieve_study_web

        url = settings.pacs_dicomweb_url
        return (
            lambda pid: find_studies_web(url, patient_id=pid, timeout=timeout),
            lambda uid: retrieve_study_web(url, uid, timeout=timeout),
        )
    peer = {"called_ae": settings.pacs_ae_title, "calling_ae": settings.dicom_ae_title, "timeout": timeout}
    host, port = settings.pacs_host, settings.pacs_port
    return (
        lambda pid: find_studies(host, port, patient_id=pid, **peer),  # type: ignore[arg-type]
        lambda uid: retrieve_study(host, port, uid, **peer),
    )  # type: ignore[arg-type]


def fetch_priors(session: Session, settings: Settings, study_uid: str) -> FetchResult:
    """Query the PACS for ``study_uid``'s patient and store up to ``priors_max`` earlier studies."""
    from medvlm.dicom.ingest import ingest_bytes

    if not settings.pacs_host and not settings.pacs_dicomweb_url:
        raise ConfigError(
            "no PACS is configured for prior studies (set MEDVLM_PACS_HOST / _PORT / _AE_TITLE, "
            "or MEDVLM_PACS_DICOMWEB_URL)"
        )
    study = session.get(Study, study_uid)
    if study is None:
        raise NotFoundError(f"study {study_uid} not found")
    patient_id = _patient_id(session, study)
    session.rollback()  # hold no transaction open across the network calls
    find, retrieve = _backend(settings)
    matches = [
        m for m in find(patient_id) if m.study_instance_uid != study_uid and _is_prior(m.study_date, study)
    ]
    result = FetchResult(found=matches[: settings.priors_max])
    for match in result.found:
        if session.get(Study, match.study_instance_uid) is not None:
            result.already_stored.append(match.study_instance_uid)
            continue
        for index, data in enumerate(retrieve(match.study_instance_uid)):
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


def latest_prior_date(session: Session, study_uid: str) -> str | None:
    """The date (DA) of the patient's most recent other stored study dated no later than this one."""
    study = session.get(Study, study_uid)
    if study is None or not study.study_date:
        return None
    return session.exec(
        select(Study.study_date)
        .where(
            Study.patient_pk == study.patient_pk,
            Study.study_instance_uid != study_uid,
            Study.study_date != "",
            col(Study.study_date) <= study.study_date,
        )
        .order_by(col(Study.study_date).desc())
    ).first()


def with_comparison(session: Session, study_uid: str, draft: DraftOutput) -> DraftOutput:
    """The draft with a first line naming the prior it can be compared with (none: unchanged).

    Written by the service, not the model: the date is a fact of the archive, and a model asked to produce
    it could only guess. A draft that already starts with a comparison line is left as it is.
    """
    date = latest_prior_date(session, study_uid)
    if date is None or draft.findings_text.lstrip().lower().startswith("comparison"):
        return draft
    line = f"Comparison: prior study dated {date[:4]}-{date[4:6]}-{date[6:8]}."
    return replace(draft, findings_text=f"{line}\n{draft.findings_text}" if draft.findings_text else line)


def fetch_priors_before_drafting(session: Session, study_uid: str, settings: Settings | None = None) -> None:
    """With ``MEDVLM_PRIORS_AUTO_FETCH``, bring the study's priors in before it is drafted, so that its
    comparison line can name them. A PACS that fails costs the draft nothing but the comparison line."""
    settings = settings or get_settings()
    if not settings.priors_auto_fetch or not (settings.pacs_host or settings.pacs_dicomweb_url):
        return
    try:
        result = fetch_priors(session, settings, study_uid)
        session.commit()
    except MedVLMError as exc:
        session.rollback()
        log.warning("priors of study %s not fetched before drafting: %s", study_uid, exc)
        return
    if result.retrieved:
        log.info("study %s: fetched prior(s) %s before drafting", study_uid, result.retrieved)

