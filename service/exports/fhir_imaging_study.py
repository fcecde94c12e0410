"""The study as a FHIR R4 ImagingStudy (JSON): its series and instances as stored, for an EHR that links
the report (DiagnosticReport.imagingStudy) to the images. Validated with the ``fhir.resources`` R4B model.

The patient is contained (as in the DiagnosticReport); the study, series and instances are identified by
their DICOM UIDs, SOP classes as ``urn:oid:`` URIs, modalities in the DICOM (DCM) code system.
"""

from __future__ import annotations

from typing import Any

from medvlm.service.exports.context import ReportContext, SeriesRef
from medvlm.service.exports.errors import ExportError
from medvlm.service.exports.fhir import _patient

DCM = "http://dicom.nema.org/resources/ontology/DCM"


def _series(series: SeriesRef) -> dict[str, Any]:
    item: dict[str, Any] = {
        "uid": series.series_instance_uid,
        "modality": {"system": DCM, "code": series.modality or "OT"},
        "numberOfInstances": len(series.instances),
        "instance": [
            {
                "uid": i.sop_instance_uid,
                "sopClass": {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{i.sop_class_uid}"},
                **({"number": i.number} if i.number is not None else {}),
            }
            for i in series.instances
        ],
    }
    if series.number is not None:
        item["number"] = series.number
    if series.description:
        item["description"] = series.description
    return item


def imaging_study(ctx: ReportContext) -> dict[str, Any]:
    from medvlm.service.exports.context import InstanceRef

    series = ctx.series or (
        SeriesRef(
            ctx.key_series_instance_uid,
            ctx.modality,
            None,
            "",
            (InstanceRef(ctx.key_sop_instance_uid, ctx.key_sop_class_uid),),
        ),
    )
    study: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "id": f"study-{ctx.report_id}",
        "contained": [_patient(ctx)],
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{ctx.study_instance_uid}"}],
        "status": "available",
        "modality": [
            {"system": DCM, "code": m} for m in dict.fromkeys(s.modality for s in series if s.modality)
        ],
        "subject": {"reference": "#patient"},
        "numberOfSeries": len(series),
        "numberOfInstances": sum(len(s.instances) for s in series),
        "series": [_series(s) for s in series],
    }
    if ctx.accession_number:
        study["identifier"].append(
            {
                "type": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]
                },
                "value": ctx.accession_number,
            }
        )
    if ctx.study_date:
        study["started"] = ctx.study_date.isoformat()
    if ctx.study_description:
        study["description"] = ctx.study_description
    if ctx.referring_physician:
        study["referrer"] = {"display": ctx.referring_physician.replace("^", " ").strip()}
    study = {k: v for k, v in study.items() if v not in (None, [], "")}
    validate(study)
    return study


def validate(study: dict[str, Any]) -> None:
    from fhir.resources.R4B.imagingstudy import ImagingStudy
    from pydantic import ValidationError

    try:
        model = ImagingStudy.model_validate(study)
    except ValidationError as exc:
        raise ExportError(f"FHIR ImagingStudy failed validation: {exc.errors()[0]}") from exc
    if model.status not in {"registered", "available", "cancelled", "entered-in-error", "unknown"}:
        raise ExportError(f"ImagingStudy.status {model.status!r} is not a FHIR ImagingStudy status")
