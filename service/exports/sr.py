"""The report as a DICOM Comprehensive SR (highdicom), in the source study, for the PACS.

Content tree after TID 2000 (Basic Diagnostic Imaging Report): observer context (the drafting device, and
the signing radiologist once signed), a Findings container with the report text, one coded finding per
structured finding (presence, laterality, severity, site, probability, significance) and the key image,
an Impression container, addenda and the attestation. VerificationFlag is VERIFIED (with the signer as
verifying observer and the signing time) only for a signed report; a draft is UNVERIFIED and PARTIAL.
Finding labels use the local coding scheme ``99MEDVLM`` (declared in the Coding Scheme Identification
Sequence), since the ontology has no standard codes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import highdicom as hd
import pydicom
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from medvlm.findings import Finding, Laterality, Presence
from medvlm.service.exports.context import ReportContext
from medvlm.service.exports.errors import ExportError, ExportInputError
from medvlm.service.exports.image import read_header
from medvlm.service.exports.text import attestation, display_name, utc_text

LOCAL_SCHEME = "99MEDVLM"
MANUFACTURER = "MedVLM"
DEVICE_UID_ENTROPY = ["medvlm-drafting-device"]
SR_SERIES_NUMBER = 9001
_UID_NAMESPACE = uuid.UUID("5a0e8f3c-2d4b-5c6e-9f10-6d6564766c6d")  # fixed: MedVLM export UIDs

_LATERALITY = {Laterality.LEFT: codes.SCT.Left, Laterality.RIGHT: codes.SCT.Right,
               Laterality.BILATERAL: codes.SCT.Bilateral}
_PRESENCE = {Presence.PRESENT: codes.DCM.Present,
             Presence.ABSENT: hd.sr.CodedConcept("121054", "DCM", "Absent"),
             Presence.UNCERTAIN: codes.DCM.PresenceUndetermined}


def _utc(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def person_name(display: str) -> str:
    """A DICOM PN for a display name: 'Dr. Ada Lovelace' -> 'Lovelace^Ada^^Dr.', 'alice' -> 'alice^';
    'A^B' is kept."""
    if "^" in display:
        return display
    words = display.split()
    prefix = [w for w in words[:1] if w.rstrip(".").lower() in {"dr", "prof", "mr", "mrs", "ms"}]
    names = words[len(prefix):]
    if len(names) < 2:
        return f"{display}^"  # a single component: the trailing caret says it is the family name
    return "^".join([names[-1], " ".join(names[:-1]), "", " ".join(prefix)]).rstrip("^")


def report_uid(ctx: ReportContext, kind: str) -> str:
    """A UID stable for the same report state: re-exporting gives the same object, a change a new one."""
    state = [ctx.report_id, kind, ctx.status.value, ctx.signed_at.isoformat() if ctx.signed_at else "",
             str(len(ctx.addenda))]
    return uuid_uid(*state)


def series_uid(ctx: ReportContext, kind: str) -> str:
    """One series per report and export kind: the draft, the signed report and each addendum version of
    the report land in the same series in the PACS, as successive instances."""
    return uuid_uid(ctx.report_id, kind)


def instance_number(ctx: ReportContext) -> int:
    """1 for a draft, 2 once signed, 2 + n after n addenda: later versions sort after earlier ones."""
    return 1 if not ctx.is_signed else 2 + len(ctx.addenda)


def uuid_uid(*parts: str) -> str:
    """A 2.25 UID from a name-based UUID (PS3.5 B.2): deterministic for the same parts."""
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, '|'.join(parts)).int}"


def _finding_item(finding: Finding) -> hd.sr.CodeContentItem:
    item = hd.sr.CodeContentItem(
        name=codes.DCM.Finding, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
        # Labels over 16 characters become LongCodeValue (highdicom), so no truncation collisions.
        value=hd.sr.CodedConcept(finding.label, LOCAL_SCHEME, display_name(finding.label)))
    props: list[hd.sr.ContentItem] = [hd.sr.CodeContentItem(
        codes.DCM.PresenceOfProperty, _PRESENCE[finding.presence], relationship_type="HAS PROPERTIES")]
    if finding.laterality:
        props.append(hd.sr.CodeContentItem(codes.SCT.Laterality, _LATERALITY[finding.laterality],
                                           relationship_type="HAS PROPERTIES"))
    if finding.severity:
        props.append(hd.sr.TextContentItem(codes.SCT.Severity, finding.severity, "HAS PROPERTIES"))
    if finding.location:
        props.append(hd.sr.TextContentItem(codes.SCT.FindingSite, finding.location, "HAS PROPERTIES"))
    if finding.probability is not None:
        props.append(hd.sr.NumContentItem(codes.DCM.Probability, round(finding.probability * 100.0, 2),
                                          codes.UCUM.Percent, relationship_type="HAS PROPERTIES"))
    if finding.critical:
        props.append(hd.sr.CodeContentItem(codes.DCM.LevelOfSignificance, codes.SCT.HighlySignificant,
                                           relationship_type="HAS PROPERTIES"))
    item.ContentSequence = hd.sr.ContentSequence(props)
    return item


def _content(ctx: ReportContext) -> hd.sr.ContainerContentItem:
    root = hd.sr.ContainerContentItem(
        name=hd.sr.CodedConcept("18748-4", "LN", "Diagnostic imaging report"), template_id="2000")
    device = hd.sr.ObserverContext(codes.DCM.Device, hd.sr.DeviceObserverIdentifyingAttributes(
        uid=uuid_uid(*DEVICE_UID_ENTROPY), name="MedVLM drafting model",
        manufacturer_name=MANUFACTURER, model_name=(ctx.model_version or "unknown")[:64]))
    language = hd.sr.LanguageOfContentItemAndDescendants(
        hd.sr.CodedConcept("en-US", "RFC5646", "English (United States)"))
    items: list[hd.sr.ContentItem] = [*language, *device]
    if ctx.is_signed and ctx.signer:
        signer = hd.sr.ObserverContext(codes.DCM.Person, hd.sr.PersonObserverIdentifyingAttributes(
            name=person_name(ctx.signer), organization_name=ctx.institution[:64]))
        items.extend(item for item in signer)
    findings = hd.sr.ContainerContentItem(codes.DCM.Findings, relationship_type="CONTAINS")
    entries: list[hd.sr.ContentItem] = []
    if ctx.findings_text.strip():
        entries.append(hd.sr.TextContentItem(codes.DCM.Finding, ctx.findings_text.strip(), "CONTAINS"))
    entries += [_finding_item(f) for f in ctx.present_findings]
    entries.append(hd.sr.ImageContentItem(
        codes.DCM.BestIllustrationOfFinding, ctx.key_sop_class_uid, ctx.key_sop_instance_uid,
        relationship_type="CONTAINS"))
    findings.ContentSequence = hd.sr.ContentSequence(entries)
    impression = hd.sr.ContainerContentItem(codes.DCM.Conclusions, relationship_type="CONTAINS")
    impression.ContentSequence = hd.sr.ContentSequence([
        hd.sr.TextContentItem(codes.DCM.Impression, ctx.impression.strip() or "-", "CONTAINS")])
    items += [findings, impression]
    for add in ctx.addenda:
        items.append(hd.sr.TextContentItem(
            codes.DCM.Addendum, f"{add.text.strip()} ({add.author}, {utc_text(add.created_at)})", "CONTAINS"))
    comment = attestation(ctx) + (f". Model version: {ctx.model_version}" if ctx.model_version else "")
    items.append(hd.sr.TextContentItem(codes.DCM.Comment, comment, "CONTAINS"))
    root.ContentSequence = hd.sr.ContentSequence(items)
    return root


def check_key_image(ctx: ReportContext, source: Dataset) -> None:
    pairs = [("StudyInstanceUID", ctx.study_instance_uid), ("SeriesInstanceUID", ctx.key_series_instance_uid),
             ("SOPInstanceUID", ctx.key_sop_instance_uid), ("SOPClassUID", ctx.key_sop_class_uid)]
    for keyword, expected in pairs:
        found = str(source.get(keyword, ""))
        if found != expected:
            raise ExportInputError(f"key image {ctx.key_image_path} has {keyword} {found!r}; the report "
                                   f"expects {expected!r}")


# Type 2 attributes highdicom copies from the evidence by attribute access: a source image may lack them
# (seen: no PatientBirthDate -> AttributeError -> a bare 500); they are copied empty, as Type 2 allows.
_TYPE2_FROM_EVIDENCE = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
                        "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName")


def _with_type2(source: Dataset) -> Dataset:
    for keyword in _TYPE2_FROM_EVIDENCE:
        if keyword not in source:
            setattr(source, keyword, "")
    return source


def build_sr_dataset(report_ctx: ReportContext) -> Dataset:
    """The Comprehensive SR as a pydicom dataset (see ``build_sr`` for bytes)."""
    ctx = report_ctx
    source = _with_type2(read_header(ctx.key_image_path))
    check_key_image(ctx, source)
    when = _utc(ctx.signed_at or ctx.created_at or datetime.now(UTC))
    try:
        content = _content(ctx)
        sr = hd.sr.ComprehensiveSR(
            evidence=[source], content=content,
            series_instance_uid=series_uid(ctx, "sr-series"), series_number=SR_SERIES_NUMBER,
            sop_instance_uid=report_uid(ctx, "sr"), instance_number=instance_number(ctx),
            manufacturer=MANUFACTURER,
            is_complete=ctx.is_signed, is_final=ctx.is_signed, is_verified=ctx.is_signed,
            institution_name=ctx.institution[:64],
            verifying_observer_name=person_name(ctx.signer) if ctx.is_signed and ctx.signer else None,
            verifying_organization=ctx.institution[:64] if ctx.is_signed else None,
            series_description="MedVLM report", content_date=when.date(), content_time=when.time(),
        )
    except (ValueError, AttributeError) as exc:  # highdicom's checks of values (lengths, UIDs, codes)
        raise ExportError(f"cannot build the SR for report {ctx.report_id}: {exc}") from exc
    if ctx.is_signed:
        sr.VerifyingObserverSequence[0].VerificationDateTime = when.strftime("%Y%m%d%H%M%S+0000")
    sr.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: report text and names are not limited to Latin-1
    scheme = Dataset()
    scheme.CodingSchemeDesignator = LOCAL_SCHEME
    scheme.CodingSchemeName = "MedVLM finding ontology (curricula/ontology.yaml)"
    scheme.CodingSchemeResponsibleOrganization = MANUFACTURER
    sr.CodingSchemeIdentificationSequence = [scheme]
    return sr


def build_sr(report_ctx: ReportContext) -> bytes:
    """The SR as a DICOM Part 10 file (bytes)."""
    from io import BytesIO

    buffer = BytesIO()
    pydicom.dcmwrite(buffer, build_sr_dataset(report_ctx), enforce_file_format=True)
    return buffer.getvalue()
