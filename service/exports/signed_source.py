"""The service's own signed reports, with their stored images, as a source for ``medvlm data import``.

A site that drafts and signs in MedVLM holds the best-paired data it has: each signed report sits beside
the very images it was written on. This reads them (reports in the ``signed`` status, their FINAL text)
into the importer's ``SourceReport`` shape, paired by study UID, and lists each study's stored files; the
importer then gates, de-identifies, labels and splits them like any other archive. Names the database
knows (patient, signer, authors, referring physician) go with each report so that its text is scrubbed of
them too.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from medvlm.dataset.importer.reports import SourceReport
from medvlm.dicom.study_order import study_instances
from medvlm.service.statuses import ReportStatus


def signed_source(engine: Engine) -> tuple[list[Path], list[SourceReport]]:
    """(stored image files of every signed study, one SourceReport per signed report)."""
    from medvlm.db.models import Patient, Study
    from medvlm.service.db.tables import Report, ReportVersion

    files: list[Path] = []
    reports: list[SourceReport] = []
    with Session(engine) as session:
        signed = session.exec(select(Report).where(Report.status == ReportStatus.SIGNED.value)
                              .order_by(Report.study_instance_uid)).all()
        for report in signed:
            study = session.get(Study, report.study_instance_uid)
            patient = session.get(Patient, study.patient_pk) if study else None
            stored = [Path(i.path) for i, _ in session.exec(study_instances(report.study_instance_uid)).all()]
            files += [p for p in stored if p.is_file()]
            versions = select(ReportVersion.author).where(ReportVersion.report_id == report.id)
            authors = session.exec(versions).all()
            names = [n for n in (report.signed_by, *authors, study and study.referring_physician,
                                 patient and patient.name) if n]
            signed_on = report.signed_at.date() if report.signed_at else None
            reports.append(SourceReport(
                where=f"service report {report.id}", fmt="service", findings_text=report.findings_text,
                impression=report.impression, study_uid=report.study_instance_uid,
                accession=study.accession_number if study else "",
                patient_id=patient.patient_id if patient else "",
                date=signed_on or _study_date(study), names=[str(n) for n in names]))
    return files, reports


def _study_date(study: object) -> dt.date | None:
    value = str(getattr(study, "study_date", "") or "")
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date() if value else None
    except ValueError:
        return None
