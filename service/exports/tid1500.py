"""The AI results as a DICOM TID 1500 Measurement Report (highdicom), the form OHIF and IHE AI Results read.

One TID 1501 measurement group per reported finding (present or uncertain), each with:
- the finding type coded in SNOMED CT (or DICOM's chest CAD codes) where a standard code exists, else in
  the local scheme ``99MEDVLM`` (declared in the Coding Scheme Identification Sequence);
- a tracking identifier (stable UID per report and finding), the finding site with laterality;
- qualitative evaluations: presence (Present / Presence Undetermined), severity (SNOMED CT qualifiers)
  and, for a critical finding, Level of Significance = Highly significant;
- the model's probability as a measurement (percent);
- the algorithm identification (TID 4019: name ``MedVLM`` and the model version) and the source image.
With no finding reported, one group says so: finding type Abnormal (SCT), presence Absent.
The observation context names the drafting device and, once signed, the radiologist. The dataset carries
Contributing Equipment (the MedVLM processing software and version), and is VERIFIED only once signed.
Finding regions from a localisation map are not encoded: the model has no map to give yet.
"""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import highdicom as hd
import pydicom
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from medvlm.findings import Finding, Laterality, Presence
from medvlm.service.exports.context import ReportContext
from medvlm.service.exports.errors import ExportError
from medvlm.service.exports.image import read_header
from medvlm.service.exports.sr import (
    DEVICE_UID_ENTROPY,
    LOCAL_SCHEME,
    MANUFACTURER,
    check_key_image,
    instance_number,
    person_name,
    report_uid,
    series_uid,
    uuid_uid,
)
from medvlm.service.exports.text import display_name

SERIES_NUMBER = 9002
ALGORITHM_NAME = "MedVLM"
# Standard codes for ontology findings, taken from the DICOM standard's code dictionary (pydicom) where it
# has them; SNOMED CT concept ids otherwise. Findings not listed use the local scheme.
FINDING_CODES: dict[str, hd.sr.CodedConcept] = {
    "cardiomegaly": hd.sr.CodedConcept.from_code(codes.SCT.Cardiomegaly),
    "pleural_effusion": hd.sr.CodedConcept.from_code(codes.SCT.PleuralEffusion),
    "pneumothorax": hd.sr.CodedConcept.from_code(codes.SCT.Pneumothorax),
    "pulmonary_edema": hd.sr.CodedConcept.from_code(codes.SCT.PulmonaryEdema),
    "nodule": hd.sr.CodedConcept.from_code(codes.SCT.Nodule),
    "mass": hd.sr.CodedConcept.from_code(codes.SCT.Mass),
    "lung_opacity": hd.sr.CodedConcept.from_code(codes.DCM.Opacity),  # DICOM chest CAD (CID 6102)
    "consolidation": hd.sr.CodedConcept("95436008", "SCT", "Lung consolidation"),
    "atelectasis": hd.sr.CodedConcept("46621007", "SCT", "Atelectasis"),
    "fracture": hd.sr.CodedConcept("125605004", "SCT", "Fracture of bone"),
}
_SITES = {
    "cardiomegaly": codes.SCT.Heart,
    "pleural_effusion": codes.SCT.Pleura,
    "pneumothorax": codes.SCT.Pleura,
    "fracture": codes.SCT.Thorax,
    "support_device": codes.SCT.Thorax,
}
_SEVERITY = {
    "mild": codes.SCT.Mild,
    "moderate": codes.SCT.Moderate,
    "severe": codes.SCT.Severe,
    "small": codes.SCT.Small,
    "large": codes.SCT.Large,
    "borderline": codes.DCM.Borderline,
}
_LATERALITY = {
    Laterality.LEFT: codes.SCT.Left,
    Laterality.RIGHT: codes.SCT.Right,
    Laterality.BILATERAL: codes.SCT.Bilateral,
}
_PRESENCE = {Presence.PRESENT: codes.DCM.Present, Presence.UNCERTAIN: codes.DCM.PresenceUndetermined}
PROCEDURE = hd.sr.CodedConcept("399208008", "SCT", "Plain chest X-ray")


def finding_code(label: str) -> hd.sr.CodedConcept:
    return FINDING_CODES.get(label) or hd.sr.CodedConcept(label, LOCAL_SCHEME, display_name(label))


def _algorithm(ctx: ReportContext) -> hd.sr.AlgorithmIdentification:
    return hd.sr.AlgorithmIdentification(name=ALGORITHM_NAME, version=(ctx.model_version or "unknown")[:64])


def _group(
    ctx: ReportContext, finding: Finding, source: Dataset
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    evaluations = [hd.sr.QualitativeEvaluation(codes.DCM.PresenceOfProperty, _PRESENCE[finding.presence])]
    if finding.severity in _SEVERITY:
        evaluations.append(hd.sr.QualitativeEvaluation(codes.SCT.Severity, _SEVERITY[finding.severity]))
    if finding.critical:
        evaluations.append(
            hd.sr.QualitativeEvaluation(codes.DCM.LevelOfSignificance, codes.SCT.HighlySignificant)
        )
    measurements = []
    if finding.probability is not None:
        measurements.append(
            hd.sr.Measurement(
                name=codes.DCM.Probability,
                value=round(finding.probability * 100.0, 2),
                unit=codes.UCUM.Percent,
                algorithm_id=_algorithm(ctx),
            )
        )
    site = hd.sr.FindingSite(
        anatomic_location=_SITES.get(finding.label, codes.SCT.Lung),
        laterality=_LATERALITY.get(finding.laterality) if finding.laterality else None,
    )
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=uuid_uid(ctx.report_id, "tid1500", finding.label), identifier=f"{finding.label}"[:64]
        ),
        finding_type=finding_code(finding.label),
        algorithm_id=_algorithm(ctx),
        finding_sites=[site],
        measurements=measurements or None,
        qualitative_evaluations=evaluations,
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)],
    )


def _normal_group(ctx: ReportContext, source: Dataset) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """No finding reported: one group saying so (Abnormal: Absent), since TID 1500 needs a measurement."""
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=uuid_uid(ctx.report_id, "tid1500", "no_finding"), identifier="no_finding"
        ),
        finding_type=codes.SCT.Abnormal,
        algorithm_id=_algorithm(ctx),
        finding_sites=[hd.sr.FindingSite(anatomic_location=codes.SCT.Thorax)],
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(codes.DCM.PresenceOfProperty, codes.DCM.Absent)],
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)],
    )


def _observation_context(ctx: ReportContext) -> hd.sr.ObservationContext:
    device = hd.sr.ObserverContext(
        codes.DCM.Device,
        hd.sr.DeviceObserverIdentifyingAttributes(
            uid=uuid_uid(*DEVICE_UID_ENTROPY),
            name="MedVLM drafting model",
            manufacturer_name=MANUFACTURER,
            model_name=(ctx.model_version or "unknown")[:64],
        ),
    )
    person = None
    if ctx.is_signed and ctx.signer:
        person = hd.sr.ObserverContext(
            codes.DCM.Person,
            hd.sr.PersonObserverIdentifyingAttributes(
                name=person_name(ctx.signer), organization_name=ctx.institution[:64]
            ),
        )
    return hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device)


def build_tid1500_dataset(ctx: ReportContext) -> Dataset:
    source = read_header(ctx.key_image_path)
    check_key_image(ctx, source)
    when = ctx.signed_at or ctx.created_at or datetime.now(UTC)
    when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    findings = [f for f in ctx.present_findings if f.label != "no_finding"]
    try:
        report = hd.sr.MeasurementReport(
            observation_context=_observation_context(ctx),
            procedure_reported=PROCEDURE,
            imaging_measurements=[_group(ctx, f, source) for f in findings] or [_normal_group(ctx, source)],
            language_of_content_item_and_descendants=hd.sr.LanguageOfContentItemAndDescendants(
                hd.sr.CodedConcept("en-US", "RFC5646", "English (United States)")
            ),
        )
        equipment = hd.ContributingEquipment(
            manufacturer=MANUFACTURER,
            purpose_of_reference=codes.DCM.ProcessingEquipment,
            manufacturer_model_name="MedVLM drafting model",
            software_versions=(ctx.model_version or "unknown")[:64],
            institution_name=ctx.institution[:64],
            contribution_datetime=when.replace(tzinfo=None),
            contribution_description="AI findings drafted; reviewed by a radiologist"
            if ctx.is_signed
            else "AI findings drafted; not yet reviewed",
        )
        sr = hd.sr.Comprehensive3DSR(
            evidence=[source],
            content=report[0],
            series_instance_uid=series_uid(ctx, "tid1500-series"),
            series_number=SERIES_NUMBER,
            sop_instance_uid=report_uid(ctx, "tid1500"),
            instance_number=instance_number(ctx),
            manufacturer=MANUFACTURER,
            is_complete=ctx.is_signed,
            is_final=ctx.is_signed,
            is_verified=ctx.is_signed,
            institution_name=ctx.institution[:64],
            verifying_observer_name=person_name(ctx.signer) if ctx.is_signed and ctx.signer else None,
            verifying_organization=ctx.institution[:64] if ctx.is_signed else None,
            series_description="MedVLM AI results",
            content_date=when.date(),
            content_time=when.time(),
            contributing_equipment=[equipment],
        )
    except (ValueError, TypeError) as exc:  # highdicom's validation of values (lengths, UIDs, codes)
        raise ExportError(f"cannot build the TID 1500 report for report {ctx.report_id}: {exc}") from exc
    if ctx.is_signed:
        sr.VerifyingObserverSequence[0].VerificationDateTime = when.strftime("%Y%m%d%H%M%S+0000")
    sr.SpecificCharacterSet = "ISO_IR 192"
    if any(f.label not in FINDING_CODES for f in findings):
        scheme = Dataset()
        scheme.CodingSchemeDesignator = LOCAL_SCHEME
        scheme.CodingSchemeName = "MedVLM finding ontology (curricula/ontology.yaml)"
        scheme.CodingSchemeResponsibleOrganization = MANUFACTURER
        sr.CodingSchemeIdentificationSequence = [scheme]
    return sr


def build_tid1500(ctx: ReportContext) -> bytes:
    buffer = BytesIO()
    pydicom.dcmwrite(buffer, build_tid1500_dataset(ctx), enforce_file_format=True)
    return buffer.getvalue()
