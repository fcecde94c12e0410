"""A report about a real chest film (pydicom-data's RG1_UNCI CR, MONOCHROME1, 1955x1841) for the exports.

Imported by its full name (``tests.service.exports.report_fixtures``): ``from conftest import`` would pick
whichever conftest module was loaded last in a whole-suite run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pydicom

from medvlm.findings import Finding, Laterality, Presence
from medvlm.service.exports.context import Addendum, ReportContext, ReportStatus
from tests.medvlm.dicom.dicom_factory import dciodvfy, pydicom_data_file

__all__ = ["FINDINGS", "FINDINGS_TEXT", "IMPRESSION", "SIGNED_AT", "chest_film_path", "dciodvfy",
           "make_context"]


def chest_film_path() -> Path:
    """RG1_UNCI from the pydicom-data wheel (a declared dependency: missing means a broken environment,
    not a reason to test the exports on a CT instead)."""
    return pydicom_data_file("RG1_UNCI.dcm")


FINDINGS = [
    Finding("pleural_effusion", Presence.PRESENT, Laterality.LEFT, "small", None, 0.87),
    Finding("pneumothorax", Presence.PRESENT, Laterality.RIGHT, "large", None, 0.91, critical=True),
    Finding("nodule", Presence.UNCERTAIN, None, None, "right upper lobe", 0.42),
    Finding("cardiomegaly", Presence.ABSENT, probability=0.03),
]
FINDINGS_TEXT = ("Small left pleural effusion. Large right pneumothorax with mediastinal shift < 1 cm & no "
                 "rib fracture.\nPossible nodule in the right upper lobe.")
IMPRESSION = "1. Large right pneumothorax: critical, phoned to the ward.\n2. Small left effusion."
SIGNED_AT = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


def make_context(path: Path, *, signed: bool, **overrides: object) -> ReportContext:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    values: dict[str, object] = dict(
        report_id="7d3f0c1e-1b9a-4a53-9a55-0c0e4c1f2a10",
        status=ReportStatus.SIGNED if signed else ReportStatus.IN_REVIEW,
        study_instance_uid=str(ds.StudyInstanceUID), key_image_path=path,
        key_sop_instance_uid=str(ds.SOPInstanceUID), key_sop_class_uid=str(ds.SOPClassUID),
        key_series_instance_uid=str(ds.SeriesInstanceUID),
        findings=list(FINDINGS), findings_text=FINDINGS_TEXT, impression=IMPRESSION,
        model_version="tiny-2026.03.1", patient_id=str(ds.PatientID), patient_name=str(ds.PatientName),
        patient_birth_date=date(1940, 3, 5), patient_sex=str(ds.get("PatientSex", "")),
        accession_number=str(ds.get("AccessionNumber", "")), study_date=date(2004, 8, 26),
        study_time=str(ds.get("StudyTime", "")), study_description=str(ds.get("StudyDescription", "")),
        study_id=str(ds.get("StudyID", "")), modality=str(ds.Modality),
        signer="Dr. Ada Lovelace" if signed else None, signed_at=SIGNED_AT if signed else None,
        addenda=[Addendum("Comparison with prior film: effusion unchanged.", "Dr. Ada Lovelace",
                          datetime(2026, 3, 14, 11, 0, tzinfo=UTC))] if signed else [],
        institution="St. Example Hospital", created_at=datetime(2026, 3, 14, 8, 0, tzinfo=UTC),
    )
    values.update(overrides)
    return ReportContext(**values)  # type: ignore[arg-type]
