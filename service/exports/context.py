"""Everything an export needs about one report, gathered once by the service and handed to each builder.

The exports never touch the database: the service fills a ``ReportContext`` from its tables (report,
study, patient, key instance) and calls ``build_pdf``, ``build_sr``, ``encapsulated_pdf.build`` or
``diagnostic_report``. That keeps each builder testable with a real DICOM file and no server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from medvlm.findings import Finding
from medvlm.service.exports.errors import ExportInputError
from medvlm.service.statuses import ReportStatus


@dataclass(frozen=True)
class Addendum:
    text: str
    author: str
    created_at: datetime


@dataclass(frozen=True)
class InstanceRef:
    sop_instance_uid: str
    sop_class_uid: str
    number: int | None = None


@dataclass(frozen=True)
class SeriesRef:
    """One stored series of the study (for the FHIR ImagingStudy)."""

    series_instance_uid: str
    modality: str
    number: int | None = None
    description: str = ""
    instances: tuple[InstanceRef, ...] = ()


@dataclass(frozen=True)
class ReportContext:
    """One report with its study, patient and key image, as the exports see it.

    ``key_image_path`` is the stored DICOM file of the key image (``Instance.path``); the SR and the
    encapsulated PDF reference its study, series and SOP instance, and the PDF renders it.
    ``signer`` / ``signed_at`` are set only once the report is signed; exports treat anything else as a
    draft (watermark in the PDF, UNVERIFIED SR, ``preliminary`` FHIR status).
    """

    report_id: str
    status: ReportStatus
    study_instance_uid: str
    key_image_path: Path
    key_sop_instance_uid: str
    key_sop_class_uid: str
    key_series_instance_uid: str
    findings: list[Finding] = field(default_factory=list)
    findings_text: str = ""
    impression: str = ""
    model_version: str = ""
    patient_id: str = ""
    patient_name: str = ""
    patient_birth_date: date | None = None
    patient_sex: str = ""  # DICOM code: M, F, O or empty
    accession_number: str = ""
    study_date: date | None = None
    study_time: str = ""  # DICOM TM (HHMMSS), empty if unknown
    study_description: str = ""
    study_id: str = ""  # DICOM StudyID (SH), distinct from the UID
    modality: str = ""
    referring_physician: str = ""
    signer: str | None = None
    signed_at: datetime | None = None
    addenda: list[Addendum] = field(default_factory=list)
    institution: str = "MedVLM"
    created_at: datetime | None = None  # when the draft was made (PDF header for drafts)
    series: tuple[SeriesRef, ...] = ()  # every stored series of the study; empty: only the key image known

    def __post_init__(self) -> None:
        try:
            status = ReportStatus(self.status)
        except ValueError:
            raise ExportInputError(f"report {self.report_id} has status {self.status!r}; expected one of "
                                   f"{[s.value for s in ReportStatus]}") from None
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "key_image_path", Path(self.key_image_path))
        if status is ReportStatus.SIGNED and (not self.signer or self.signed_at is None):
            raise ExportInputError(
                f"report {self.report_id} is signed but has no signer/signed_at "
                f"(signer={self.signer!r}, signed_at={self.signed_at!r})")
        if not self.study_instance_uid:
            raise ExportInputError(f"report {self.report_id} has no study instance UID")

    @property
    def is_signed(self) -> bool:
        return self.status is ReportStatus.SIGNED

    @property
    def present_findings(self) -> list[Finding]:
        """Findings to report: present and uncertain ones (absent findings are not listed)."""
        return [f for f in self.findings if f.presence.value != "absent"]
