"""The PDF report wrapped as a DICOM Encapsulated PDF instance in the source study (PACS display).

highdicom has no constructor for this IOD, so it is built from the standard's module list (PS3.3
A.45.1): Patient, General Study, Encapsulated Document Series, General Equipment, SC Equipment,
Encapsulated Document and SOP Common. Patient and study attributes are copied from the key image, so
the PACS files the report under the same study; the Source Instance Sequence names the key image.
"""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian

from medvlm.service.exports.context import ReportContext
from medvlm.service.exports.image import read_header
from medvlm.service.exports.pdf import build_pdf
from medvlm.service.exports.sr import MANUFACTURER, check_key_image, instance_number, report_uid, series_uid

ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
PDF_SERIES_NUMBER = 9002
_PATIENT_STUDY = ["PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
                  "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID",
                  "AccessionNumber", "StudyDescription"]
_TYPE2 = {"PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
          "ReferringPhysicianName", "StudyID", "AccessionNumber"}


def encapsulated_pdf_dataset(report_ctx: ReportContext, pdf_bytes: bytes | None = None) -> Dataset:
    """The Encapsulated PDF dataset; ``pdf_bytes`` defaults to ``build_pdf(report_ctx)``."""
    ctx = report_ctx
    source = read_header(ctx.key_image_path)
    check_key_image(ctx, source)
    pdf = pdf_bytes if pdf_bytes is not None else build_pdf(ctx)
    when = ctx.signed_at or ctx.created_at or datetime.now(UTC)
    when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    for keyword in _PATIENT_STUDY:
        if keyword in source:
            setattr(ds, keyword, source[keyword].value)
        elif keyword in _TYPE2:
            setattr(ds, keyword, "")
    # Encapsulated Document Series
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = series_uid(ctx, "pdf-series")
    ds.SeriesNumber = PDF_SERIES_NUMBER
    ds.SeriesDescription = "MedVLM report (PDF)"
    # General Equipment + SC Equipment: a workstation-made document
    ds.Manufacturer = MANUFACTURER
    ds.InstitutionName = ctx.institution[:64]
    ds.ConversionType = "WSD"
    ds.SoftwareVersions = (ctx.model_version or "unknown")[:64]
    # Encapsulated Document
    ds.InstanceNumber = instance_number(ctx)
    ds.ContentDate = when.strftime("%Y%m%d")
    ds.ContentTime = when.strftime("%H%M%S")
    ds.AcquisitionDateTime = when.strftime("%Y%m%d%H%M%S+0000")
    ds.BurnedInAnnotation = "YES"  # the PDF prints the patient's name and identifiers
    ds.RecognizableVisualFeatures = "NO"
    ds.DocumentTitle = ("Radiology report" if ctx.is_signed else "DRAFT radiology report (unsigned)")[:64]
    title = Dataset()
    title.CodeValue, title.CodingSchemeDesignator = "18748-4", "LN"
    title.CodeMeaning = "Diagnostic imaging report"
    ds.ConceptNameCodeSequence = [title]
    ref = Dataset()
    ref.ReferencedSOPClassUID = ctx.key_sop_class_uid
    ref.ReferencedSOPInstanceUID = ctx.key_sop_instance_uid
    ds.SourceInstanceSequence = [ref]
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    # OB must have even length; the trailing NUL pad is allowed by PS3.3 C.24.2.1 (length says the truth).
    ds.EncapsulatedDocument = pdf + (b"\x00" if len(pdf) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(pdf)
    # SOP Common
    ds.SOPClassUID = ENCAPSULATED_PDF_STORAGE
    ds.SOPInstanceUID = report_uid(ctx, "pdf")
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.ContentDate, ds.ContentTime

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    return ds


def build(report_ctx: ReportContext, pdf_bytes: bytes | None = None) -> bytes:
    """The Encapsulated PDF as a DICOM Part 10 file (bytes)."""
    buffer = BytesIO()
    pydicom.dcmwrite(buffer, encapsulated_pdf_dataset(report_ctx, pdf_bytes), enforce_file_format=True)
    return buffer.getvalue()
