"""Reports, versions and correction pairs as the API shows them (never the table rows themselves)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from medvlm.service.db.tables import Addendum, Report, ReportVersion, utc
from medvlm.service.schemas.reports import (
    AddendumPublic,
    ConsistencyFlagPublic,
    CorrectionPair,
    DraftText,
    ReportPublic,
    VersionPublic,
    findings_out,
)


def _draft_text(data: dict) -> DraftText:
    return DraftText(
        findings=findings_out(data.get("findings", [])),
        findings_text=data.get("findings_text", ""),
        impression=data.get("impression", ""),
    )


def report_public(session: Session, report: Report) -> ReportPublic:
    addenda = session.exec(
        select(Addendum)
        .where(Addendum.report_id == report.id)
        .order_by(col(Addendum.created_at), col(Addendum.id))
    ).all()
    return ReportPublic(
        id=report.id,
        study_instance_uid=report.study_instance_uid,
        status=report.status,  # type: ignore[arg-type]
        findings=findings_out(report.findings),
        findings_text=report.findings_text,
        impression=report.impression,
        original=_draft_text(report.original),
        model_version=report.model_version,
        consistency_flags=[ConsistencyFlagPublic(**f) for f in report.consistency_flags],
        version=report.version,
        signed_by=report.signed_by,
        signed_at=utc(report.signed_at),
        addenda=[
            AddendumPublic(text=a.text, author=a.author, created_at=utc(a.created_at))  # type: ignore[arg-type]
            for a in addenda
        ],
        updated_at=utc(report.updated_at),
    )  # type: ignore[arg-type]


def versions_public(session: Session, report_id: str) -> list[VersionPublic]:
    rows = session.exec(
        select(ReportVersion).where(ReportVersion.report_id == report_id).order_by(col(ReportVersion.version))
    ).all()
    return [
        VersionPublic(
            version=v.version,
            kind=v.kind,  # type: ignore[arg-type]
            findings=findings_out(v.findings),  # type: ignore[arg-type]
            findings_text=v.findings_text,
            impression=v.impression,
            author=v.author,
            created_at=utc(v.created_at),
        )
        for v in rows
    ]  # type: ignore[arg-type]


def _known_phi(session: Session, report: Report) -> tuple[list[str], list[str]]:
    """Names and identifiers that belong to this study, to be scrubbed from the text handed out."""
    from medvlm.db.models import Patient, Study

    authors = session.exec(select(ReportVersion.author).where(ReportVersion.report_id == report.id)).all()
    add_authors = session.exec(select(Addendum.author).where(Addendum.report_id == report.id)).all()
    names = [report.signed_by or "", *authors, *add_authors]
    identifiers = [report.study_instance_uid]
    study = session.get(Study, report.study_instance_uid)
    if study is not None:
        names.append(study.referring_physician)
        identifiers += [study.accession_number, study.study_id]
        patient = session.get(Patient, study.patient_pk)
        if patient is not None:
            names.append(patient.name)
            identifiers.append(patient.patient_id)
    return [n for n in names if n and not n.startswith("model:")], [i for i in identifiers if i]


def correction_pair(session: Session, report: Report, key: bytes) -> CorrectionPair:
    """A signed report as de-identified training data: text scrubbed, the study UID replaced by a keyed
    pseudonym (the same one every time for the same key)."""
    from medvlm.compliance.deid import UidMapper
    from medvlm.compliance.deid_text import deidentify_text

    names, identifiers = _known_phi(session, report)

    def scrub(data: dict) -> DraftText:
        text = _draft_text(data)
        clean = lambda value: deidentify_text(value, names=names, identifiers=identifiers)  # noqa: E731
        findings = [
            f.model_copy(update={"evidence": clean(f.evidence) if f.evidence else None})
            for f in text.findings
        ]
        return DraftText(
            findings=findings, findings_text=clean(text.findings_text), impression=clean(text.impression)
        )

    original = scrub(report.original)
    final = scrub(
        {"findings": report.findings, "findings_text": report.findings_text, "impression": report.impression}
    )
    mapper = UidMapper(key)
    signed = utc(report.signed_at)  # type: ignore[arg-type]
    return CorrectionPair(
        # Researchers get neither the real report id (it opens the clinical record) nor the signing time
        # (a date of care): a keyed pseudonym, stable for the same key, and the month.
        report_id=f"corr-{mapper.pseudonym('report:' + str(report.id))}",
        study_instance_uid=mapper(report.study_instance_uid),
        model_version=report.model_version,
        signed_month=f"{signed.year:04d}-{signed.month:02d}",
        original=original,
        final=final,
        changed=original.model_dump() != final.model_dump(),
    )
