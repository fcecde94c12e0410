"""The report as a FHIR R4 DiagnosticReport (JSON), with one contained Observation per finding.

Status: ``final`` once signed (``appended`` once addenda follow the signature, as FHIR defines it),
``preliminary`` before. The patient is a contained resource (the hospital's own Patient id is not ours
to invent); the imaging study is referenced by its DICOM Study Instance UID. Every document is validated
with the ``fhir.resources`` models (R4B, whose DiagnosticReport and Observation match R4) before it is
returned, so a malformed export is an error here, not at the receiving system.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from medvlm.findings import Finding, Laterality, Presence
from medvlm.service.exports.context import ReportContext
from medvlm.service.exports.errors import ExportError
from medvlm.service.exports.text import display_name, plain_text_report

LOINC, SCT, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"
FINDING_SYSTEM = "urn:medvlm:finding"  # the ontology names (curricula/ontology.yaml)
MODEL_VERSION_EXTENSION = "urn:medvlm:fhir:model-version"
_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_PRESENCE = {Presence.PRESENT: ("52101004", "Present"), Presence.ABSENT: ("2667000", "Absent"),
             Presence.UNCERTAIN: ("419984006", "Inconclusive")}
_LATERALITY = {Laterality.LEFT: ("7771000", "Left"), Laterality.RIGHT: ("24028007", "Right"),
               Laterality.BILATERAL: ("51440002", "Bilateral")}
_GENDER = {"M": "male", "F": "female", "O": "other"}


def _instant(value: datetime) -> str:
    value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def _status(ctx: ReportContext) -> str:
    if not ctx.is_signed:
        return "preliminary"
    return "appended" if ctx.addenda else "final"


def _patient(ctx: ReportContext) -> dict[str, Any]:
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "patient"}
    if ctx.patient_id:
        patient["identifier"] = [{"value": ctx.patient_id}]
    if ctx.patient_name:
        parts = ctx.patient_name.split("^")
        name: dict[str, Any] = {"text": " ".join(p for p in parts if p)}
        if parts[0]:
            name["family"] = parts[0]
        given = [p for p in parts[1:3] if p]
        if given:
            name["given"] = given
        patient["name"] = [name]
    if ctx.patient_sex:
        patient["gender"] = _GENDER.get(ctx.patient_sex.upper(), "unknown")
    if ctx.patient_birth_date:
        patient["birthDate"] = ctx.patient_birth_date.isoformat()
    return patient


def _observation(ctx: ReportContext, index: int, finding: Finding) -> dict[str, Any]:
    code, display = _PRESENCE[finding.presence]
    obs: dict[str, Any] = {
        "resourceType": "Observation", "id": f"finding-{index}",
        "status": "final" if ctx.is_signed else "preliminary",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "imaging", "display": "Imaging"}]}],
        "code": {"coding": [{"system": FINDING_SYSTEM, "code": finding.label,
                             "display": display_name(finding.label)}], "text": display_name(finding.label)},
        "subject": {"reference": "#patient"},
        "valueCodeableConcept": {"coding": [{"system": SCT, "code": code, "display": display}],
                                 "text": finding.presence.value},
    }
    if ctx.study_date:
        obs["effectiveDateTime"] = ctx.study_date.isoformat()
    if finding.laterality or finding.location:
        site: dict[str, Any] = {"text": ", ".join(
            v for v in (finding.laterality.value if finding.laterality else None, finding.location) if v)}
        if finding.laterality:
            lat_code, lat_display = _LATERALITY[finding.laterality]
            site["coding"] = [{"system": SCT, "code": lat_code, "display": lat_display}]
        obs["bodySite"] = site
    if finding.critical:
        obs["interpretation"] = [{"coding": [{"system": _INTERPRETATION, "code": "AA",
                                              "display": "Critical abnormal"}]}]
    components: list[dict[str, Any]] = []
    if finding.probability is not None:
        components.append({"code": {"text": "model probability of presence"},
                           "valueQuantity": {"value": round(finding.probability * 100.0, 2), "unit": "%",
                                             "system": UCUM, "code": "%"}})
    if finding.severity:
        components.append({"code": {"coding": [{"system": SCT, "code": "246112005", "display": "Severity"}]},
                           "valueString": finding.severity})
    if components:
        obs["component"] = components
    return obs


def diagnostic_report(report_ctx: ReportContext, *, pdf_bytes: bytes | None = None) -> dict[str, Any]:
    """The DiagnosticReport as a JSON-ready dict; ``pdf_bytes`` adds the PDF to ``presentedForm``."""
    ctx = report_ctx
    observations = [_observation(ctx, i, f) for i, f in enumerate(ctx.present_findings, start=1)]
    text = plain_text_report(ctx).encode("utf-8")
    forms: list[dict[str, Any]] = [{"contentType": "text/plain; charset=utf-8", "language": "en",
                                    "title": "Radiology report", "data": base64.b64encode(text).decode()}]
    if pdf_bytes is not None:
        forms.append({"contentType": "application/pdf", "title": "Radiology report (PDF)",
                      "data": base64.b64encode(pdf_bytes).decode()})
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport", "id": ctx.report_id,
        "contained": [_patient(ctx), *observations],
        "extension": [{"url": MODEL_VERSION_EXTENSION, "valueString": ctx.model_version or "unknown"}],
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{ctx.report_id}"}],
        "status": _status(ctx),
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD",
                                  "display": "Radiology"}]}],
        "code": {"coding": [{"system": LOINC, "code": "18748-4", "display": "Diagnostic imaging study"}],
                 "text": ctx.study_description or "Diagnostic imaging report"},
        "subject": {"reference": "#patient"},
        "imagingStudy": [{"identifier": {"system": "urn:dicom:uid",
                                         "value": f"urn:oid:{ctx.study_instance_uid}"},
                          "display": f"{ctx.modality} {ctx.study_description}".strip() or "imaging study"}],
        "result": [{"reference": f"#{o['id']}"} for o in observations],
        "conclusion": ctx.impression.strip() or None,
        "presentedForm": forms,
    }
    if ctx.accession_number:
        report["identifier"].append({"type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]},
            "value": ctx.accession_number})
    if ctx.study_date:
        report["effectiveDateTime"] = ctx.study_date.isoformat()
    issued = ctx.signed_at if ctx.is_signed else ctx.created_at
    if issued:
        report["issued"] = _instant(issued)
    if ctx.is_signed and ctx.signer:
        report["resultsInterpreter"] = [{"display": ctx.signer}]
    report["performer"] = [{"display": ctx.institution}]
    report = {k: v for k, v in report.items() if v not in (None, [], "")}
    validate(report)
    return report


# Required bindings that the fhir.resources models do not enforce (they check only the code syntax).
REPORT_STATUSES = {"registered", "partial", "preliminary", "final", "amended", "corrected", "appended",
                   "cancelled", "entered-in-error", "unknown"}
OBSERVATION_STATUSES = {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                        "entered-in-error", "unknown"}


def validate(report: dict[str, Any]) -> None:
    """Raise ``ExportError`` unless ``report`` is a valid DiagnosticReport (contained resources included).

    Structure, cardinality and datatypes come from the ``fhir.resources`` models; the required status
    bindings and the rule that every contained resource is referenced (dom-3) are checked here.
    """
    from fhir.resources.R4B.diagnosticreport import DiagnosticReport
    from pydantic import ValidationError

    try:
        model = DiagnosticReport.model_validate(report)
    except ValidationError as exc:
        raise ExportError(f"FHIR DiagnosticReport failed validation: {exc.errors()[0]}") from exc
    if model.status not in REPORT_STATUSES:
        raise ExportError(f"DiagnosticReport.status {model.status!r} is not one of {sorted(REPORT_STATUSES)}")
    referenced = {ref.reference for ref in [model.subject, *(model.result or [])] if ref and ref.reference}
    for resource in model.contained or []:
        if f"#{resource.id}" not in referenced:
            raise ExportError(
                f"contained {resource.__resource_type__}/{resource.id} is not referenced (dom-3)")
        status = getattr(resource, "status", None)
        if resource.__resource_type__ == "Observation" and status not in OBSERVATION_STATUSES:
            raise ExportError(f"Observation {resource.id} status {status!r} is not one of "
                              f"{sorted(OBSERVATION_STATUSES)}")
