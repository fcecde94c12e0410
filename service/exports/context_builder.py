"""Gathers a ``service.exports.context.ReportContext`` from the tables, and runs the requested builder."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from medvlm.db.models import Patient, Study
from medvlm.dicom.study_order import study_instances
from medvlm.errors import NotFoundError
from medvlm.findings import Finding
from medvlm.service.db.tables import Addendum, Report, utc

MEDIA = {
    "pdf": "application/pdf",
    "sr": "application/dicom",
    "encapsulated-pdf": "application/dicom",
    "fhir": "application/fhir+json",
    "tid1500": "application/dicom",
    "fhir-imagingstudy": "application/fhir+json",
}
SUFFIX = {"pdf": "pdf", "sr": "sr.dcm", "encapsulated-pdf": "pdf.dcm", "fhir": "fhir.json",
          "tid1500": "tid1500.dcm", "fhir-imagingstudy": "imagingstudy.fhir.json"}


def _da(value: str) -> date | None:
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8])) if len(value) == 8 else None
    except ValueError:
        return None


def _series(session: Session, study_uid: str) -> tuple[Any, ...]:
    from medvlm.service.exports.context import InstanceRef, SeriesRef

    rows = session.exec(study_instances(study_uid)).all()
    grouped: dict[str, tuple[Any, list[Any]]] = {}
    for instance, series in rows:
        grouped.setdefault(series.series_instance_uid, (series, []))[1].append(
            InstanceRef(instance.sop_instance_uid, instance.sop_class_uid, instance.instance_number))
    return tuple(SeriesRef(s.series_instance_uid, s.modality, s.series_number, s.description, tuple(i))
                 for s, i in grouped.values())


def build_context(session: Session, report: Report) -> Any:
    from medvlm.service.exports.context import Addendum as CtxAddendum
    from medvlm.service.exports.context import ReportContext, ReportStatus

    study = session.get(Study, report.study_instance_uid)
    if study is None:
        raise NotFoundError(f"study {report.study_instance_uid} of report {report.id} is no longer stored")
    patient = session.get(Patient, study.patient_pk)
    key = session.exec(study_instances(study.study_instance_uid)).first()
    if key is None:
        raise NotFoundError(f"study {study.study_instance_uid} has no stored instance to export from")
    instance, series = key
    addenda = session.exec(
        select(Addendum)
        .where(Addendum.report_id == report.id)
        .order_by(col(Addendum.created_at), col(Addendum.id))
    ).all()
    signed = report.status == ReportStatus.SIGNED
    return ReportContext(
        report_id=report.id,
        status=ReportStatus(report.status),
        study_instance_uid=study.study_instance_uid,
        key_image_path=Path(instance.path),
        key_sop_instance_uid=instance.sop_instance_uid,
        key_sop_class_uid=instance.sop_class_uid,
        key_series_instance_uid=series.series_instance_uid,
        findings=[Finding.from_dict(f) for f in report.findings],
        findings_text=report.findings_text,
        impression=report.impression,
        model_version=report.model_version,
        patient_id=patient.patient_id if patient else "",
        patient_name=patient.name if patient else "",
        patient_birth_date=_da(patient.birth_date) if patient else None,
        patient_sex=patient.sex if patient else "",
        accession_number=study.accession_number,
        study_date=_da(study.study_date),
        study_time=study.study_time,
        study_description=study.description,
        study_id=study.study_id,
        modality=series.modality,
        referring_physician=study.referring_physician,
        signer=report.signed_by if signed else None,
        signed_at=utc(report.signed_at) if signed else None,
        addenda=[CtxAddendum(text=a.text, author=a.author, created_at=utc(a.created_at)) for a in addenda],  # type: ignore[arg-type]
        created_at=utc(report.created_at),
        series=_series(session, study.study_instance_uid),
    )


def _dicom_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    buffer = io.BytesIO()
    value.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def run_export(kind: str, ctx: Any) -> bytes:
    """The export's bytes; the builders are the exports owner's (``service.exports``)."""
    if kind == "pdf":
        from medvlm.service.exports.pdf import build_pdf

        return build_pdf(ctx)
    if kind == "sr":
        from medvlm.service.exports.sr import build_sr

        return _dicom_bytes(build_sr(ctx))
    if kind == "encapsulated-pdf":
        from medvlm.service.exports import encapsulated_pdf

        return _dicom_bytes(encapsulated_pdf.build(ctx))
    if kind == "tid1500":
        from medvlm.service.exports.tid1500 import build_tid1500

        return build_tid1500(ctx)
    if kind == "fhir-imagingstudy":
        from medvlm.service.exports.fhir_imaging_study import imaging_study

        return json.dumps(imaging_study(ctx), indent=2).encode()
    from medvlm.service.exports.fhir import diagnostic_report

    return json.dumps(diagnostic_report(ctx), indent=2, default=str).encode()
