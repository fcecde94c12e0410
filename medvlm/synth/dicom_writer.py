"""Write a synthetic film as a DX "For Presentation" DICOM file that passes ``dciodvfy``.

Identity is synthetic and says so (PatientName ``SYNTHETIC^...``), UIDs come from
``pydicom.uid.generate_uid`` (deterministic from the study key when one is given, so a rebuild with the
same seed writes the same UIDs), and the pixel spacing is the film's physical sampling.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from medvlm.synth import GENERATOR

DX_FOR_PRESENTATION = UID("1.2.840.10008.5.1.4.1.1.1.1")
BITS_STORED = 12


@dataclass(frozen=True)
class StudyIdentity:
    """Synthetic patient and study: everything a DX file needs to say who and when, all made up."""

    key: str  # stable seed for UIDs and identity (e.g. "seed0-study17")
    patient_id: str
    patient_name: str
    birth_date: str  # YYYYMMDD
    sex: str  # M / F / O
    study_date: str  # YYYYMMDD
    study_time: str  # HHMMSS
    accession: str

    @property
    def study_uid(self) -> UID:
        return generate_uid(entropy_srcs=[self.key, "study"])

    @property
    def series_uid(self) -> UID:
        return generate_uid(entropy_srcs=[self.key, "series"])

    @property
    def sop_uid(self) -> UID:
        return generate_uid(entropy_srcs=[self.key, "instance"])

    @classmethod
    def synthetic(cls, key: str, rng: np.random.Generator) -> StudyIdentity:
        number = int(rng.integers(10**6, 10**7))
        birth = dt.date(1930, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 70)))
        study = dt.date(2024, 1, 1) + dt.timedelta(days=int(rng.integers(0, 700)))
        seconds = int(rng.integers(7 * 3600, 20 * 3600))
        return cls(
            key=key,
            patient_id=f"SYN{number}",
            patient_name=f"SYNTHETIC^PATIENT{number}",
            birth_date=birth.strftime("%Y%m%d"),
            sex=str(rng.choice(["M", "F"])),
            study_date=study.strftime("%Y%m%d"),
            study_time=f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}",
            accession=f"A{number}",
        )


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def film_dataset(
    pixels: np.ndarray, spacing_mm: float, who: StudyIdentity, window: tuple[float, float]
) -> Dataset:
    """The DX dataset for a uint16 MONOCHROME2 film (bone bright)."""
    if pixels.dtype != np.uint16 or pixels.ndim != 2:
        raise ValueError(f"expected a 2-D uint16 film, got {pixels.dtype} with shape {pixels.shape}")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = who.sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = generate_uid(entropy_srcs=[GENERATOR])
    meta.ImplementationVersionName = "MEDVLM_SYNTH01"
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = DX_FOR_PRESENTATION
    ds.SOPInstanceUID = who.sop_uid
    ds.InstanceCreationDate, ds.InstanceCreationTime = who.study_date, who.study_time
    # Patient
    ds.PatientName = who.patient_name
    ds.PatientID = who.patient_id
    ds.PatientBirthDate = who.birth_date
    ds.PatientSex = who.sex
    ds.PatientIdentityRemoved = "YES"  # there never was a real identity
    ds.DeidentificationMethod = "synthetic identity (medvlm.synth)"
    # Study
    ds.StudyInstanceUID = who.study_uid
    ds.StudyDate, ds.StudyTime = who.study_date, who.study_time
    ds.ReferringPhysicianName = ""
    ds.StudyID = who.accession[-8:]
    ds.AccessionNumber = who.accession
    ds.StudyDescription = "XR CHEST PA"
    # Series (General + DX Series)
    ds.Modality = "DX"
    ds.SeriesInstanceUID = who.series_uid
    ds.SeriesNumber = 1
    ds.SeriesDescription = "CHEST PA (synthetic, CT-derived)"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.BodyPartExamined = "CHEST"
    # Equipment
    ds.Manufacturer = "MedVLM"
    ds.ManufacturerModelName = "synthetic radiograph generator"
    ds.SoftwareVersions = GENERATOR
    ds.InstitutionName = "SYNTHETIC"
    # General image + DX image
    ds.InstanceNumber = 1
    ds.PatientOrientation = ["L", "F"]  # PA: columns run to the patient's left, rows to the feet
    ds.ContentDate, ds.ContentTime = who.study_date, who.study_time
    ds.AcquisitionDate, ds.AcquisitionTime = who.study_date, who.study_time
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = -1  # higher values = less X-ray reached the detector
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.PresentationLUTShape = "IDENTITY"
    ds.WindowCenter, ds.WindowWidth = round(window[0], 1), round(window[1], 1)
    ds.WindowCenterWidthExplanation = "SYNTHETIC FULL RANGE"
    # Anatomy, positioning, detector
    ds.ImageLaterality = "U"
    ds.AnatomicRegionSequence = Sequence([_code("51185008", "SCT", "Chest")])
    ds.ViewPosition = "PA"
    ds.ViewCodeSequence = Sequence([_code("399348003", "SCT", "postero-anterior")])
    ds.PatientPosition = ""
    ds.PositionerType = ""  # Type 2: no positioner for an erect PA film
    ds.DetectorType = "DIRECT"
    ds.ImagerPixelSpacing = [round(spacing_mm, 6)] * 2
    ds.PixelSpacing = [round(spacing_mm, 6)] * 2
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.PixelSpacingCalibrationDescription = "parallel projection: no magnification"
    ds.EstimatedRadiographicMagnificationFactor = 1.0
    ds.AcquisitionContextSequence = Sequence()
    # Pixels
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, BITS_STORED, BITS_STORED - 1
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    return ds


def write_dicom(path: Path, pixels: np.ndarray, spacing_mm: float, who: StudyIdentity) -> Path:
    lo, hi = np.percentile(pixels, [1, 99])
    ds = film_dataset(pixels, spacing_mm, who, window=((lo + hi) / 2, max(hi - lo, 1.0)))
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
