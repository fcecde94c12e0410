"""A made-up hospital archive for tests and benchmarks of ``medvlm data import``: chest films carrying a
(fake) identity, and their reports as a RIS would export them (CSV row, HL7 ORU^R01 file, Basic Text SR).

Everything here is synthetic; the identities look real on purpose (names, ids, accession numbers, dates),
so that a test can check the import removed every one of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from medvlm.synth.acquisition import Acquisition
from medvlm.synth.dicom_writer import StudyIdentity, film_dataset

BASIC_TEXT_SR = UID("1.2.840.10008.5.1.4.1.1.88.11")


@dataclass(frozen=True)
class FakeStudy:
    key: str
    patient_id: str
    patient_name: str  # DICOM PN, Family^Given
    accession: str
    date: dt.date
    radiologist: str = "Moreau^Claire"

    @property
    def identity(self) -> StudyIdentity:
        return StudyIdentity(self.key, self.patient_id, self.patient_name, "19520314", "F",
                             self.date.strftime("%Y%m%d"), "101500", self.accession)

    @property
    def study_uid(self) -> str:
        return str(self.identity.study_uid)


def film(study: FakeStudy, pixels: np.ndarray, view: str = "PA", *, modality: str = "DX",
         body_part: str = "CHEST", burned_in: str | None = "NO") -> Dataset:
    """A film of ``study`` (pixels: 2-D uint8 or uint16, bone bright) as a clinical system stores it."""
    pixels = pixels.astype(np.uint16) * (16 if pixels.dtype == np.uint8 else 1)
    # The view code must agree with ViewPosition (it once said postero-anterior on every film).
    acq = Acquisition(projection=view) if view in ("PA", "AP", "LL") else None
    ds = film_dataset(pixels, 0.2, study.identity, (2048.0, 4096.0), acq)
    if acq is None:  # an unknown view has no view code
        del ds.ViewCodeSequence
    for keyword in ("PatientIdentityRemoved", "DeidentificationMethod"):
        delattr(ds, keyword)  # a hospital's film says nothing of the kind
    ds.InstitutionName = "St Elsewhere General Hospital"
    ds.ReferringPhysicianName = "Okafor^Daniel"
    ds.OperatorsName = "Lindqvist^Per"
    ds.Modality, ds.BodyPartExamined, ds.ViewPosition = modality, body_part, view
    if burned_in is None:
        del ds.BurnedInAnnotation
    else:
        ds.BurnedInAnnotation = burned_in
    if view != "PA":  # one study, several films: each its own series and instance
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=[study.key, "series", view])
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[study.key, "instance", view])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def report_text(study: FakeStudy, findings: str, impression: str) -> tuple[str, str]:
    """The report as a radiologist signs it: with the patient and the signer named in the text."""
    family, given = study.patient_name.split("^")[0], study.patient_name.split("^")[-1]
    return (f"Comparison: none. {given} {family} (MRN {study.patient_id}). {findings}",
            f"{impression} Dictated by Dr. {study.radiologist.split('^')[0]}.")


def csv_row(study: FakeStudy, findings: str, impression: str) -> dict[str, str]:
    text, imp = report_text(study, findings, impression)
    return {"accession_number": study.accession, "patient_id": study.patient_id,
            "signed_date": study.date.isoformat(), "text": f"FINDINGS: {text}\nIMPRESSION: {imp}"}


def _hl7_escape(text: str) -> str:
    text = text.replace("\\", "\\E\\")
    for char, code in (("|", "F"), ("^", "S"), ("&", "T"), ("~", "R")):
        text = text.replace(char, f"\\{code}\\")
    return text


def oru_message(study: FakeStudy, findings: str, impression: str, control_id: str = "1",
                *, with_study_uid: bool = False) -> str:
    """One ORU^R01 (segments separated by CR), shaped like ``service/hl7/oru.py`` writes them."""
    text, imp = report_text(study, findings, impression)
    day = study.date.strftime("%Y%m%d")
    segments = [
        f"MSH|^~\\&|RIS|STELSEWHERE|||{day}120000||ORU^R01^ORU_R01|{control_id}|P|2.5.1",
        f"PID|1||{study.patient_id}^^^STE||{study.patient_name}||19520314|F",
        f"OBR|1|{study.accession}|{study.accession}|XR CHEST|||{day}101500|||||||||||||||{day}120000|||F"
        f"|||||||{study.radiologist}",
    ]
    obx = [("TX", "18782-3^Radiology Study observation (narrative)^LN", text),
           ("TX", "19005-8^Radiology Imaging study [Impression] (narrative)^LN", imp)]
    if with_study_uid:
        obx.insert(0, ("ST", "110180^Study Instance UID^DCM", study.study_uid))
    for i, (value_type, code, value) in enumerate(obx, 1):
        segments.append(f"OBX|{i}|{value_type}|{code}||{_hl7_escape(value)}||||||F")
    return "\r".join(segments) + "\r"


def _text_item(meaning: str, code: str, text: str) -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "TEXT"
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator, concept.CodeMeaning = code, "DCM", meaning
    item.ConceptNameCodeSequence = Sequence([concept])
    item.TextValue = text
    return item


def basic_text_sr(study: FakeStudy, findings: str, impression: str) -> Dataset:
    """A verified Basic Text SR report in the study it reports on (findings and impression TEXT items)."""
    text, imp = report_text(study, findings, impression)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = BASIC_TEXT_SR
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[study.key, "sr"])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = BASIC_TEXT_SR
    ds.Modality = "SR"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = (
        study.patient_name, study.patient_id, "19520314", "F")
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[study.key, "sr-series"])
    ds.StudyDate = ds.ContentDate = study.date.strftime("%Y%m%d")
    ds.StudyTime, ds.ContentTime = "101500", "120000"
    ds.AccessionNumber = study.accession
    ds.ReferringPhysicianName = "Okafor^Daniel"
    ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "1", 99, 1
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "VERIFIED"
    observer = Dataset()
    observer.VerifyingObserverName = study.radiologist
    observer.VerificationDateTime = study.date.strftime("%Y%m%d") + "120000"
    observer.VerifyingOrganization = "St Elsewhere General Hospital"
    ds.VerifyingObserverSequence = Sequence([observer])
    ds.ValueType = "CONTAINER"
    title = Dataset()
    title.CodeValue, title.CodingSchemeDesignator = "18748-4", "LN"
    title.CodeMeaning = "Diagnostic Imaging Report"
    ds.ConceptNameCodeSequence = Sequence([title])
    ds.ContinuityOfContent = "SEPARATE"
    ds.ContentSequence = Sequence([_text_item("Finding", "121071", text),
                                   _text_item("Impression", "121073", imp)])
    return ds


def save(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
