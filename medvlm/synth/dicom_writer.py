"""Write a synthetic film as a CR or DX "For Presentation" DICOM file that passes ``dciodvfy``.

The film's ``Acquisition`` says how: CR or DX, MONOCHROME1 (stored inverted) or MONOCHROME2, 10 to 16
bits stored, a window or a VOI LUT, and the view (PA / AP / AP supine / LL) with its CID 4010 code,
the chest's CID 4031 code and the patient orientation. Without one the file is the plain DX PA film.

Identity is synthetic and says so (PatientName ``SYNTHETIC^...``), UIDs come from
``pydicom.uid.generate_uid`` (deterministic from the study key when one is given, so a rebuild with the
same seed writes the same UIDs), and the pixel spacing is the film's physical sampling.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from medvlm.synth import GENERATOR
from medvlm.synth.acquisition import Acquisition
from medvlm.synth.errors import SynthError

DX_FOR_PRESENTATION = UID("1.2.840.10008.5.1.4.1.1.1.1")
CR_IMAGE = UID("1.2.840.10008.5.1.4.1.1.1")
BITS_STORED = 12  # the film's own depth (develop writes 0..4095); files are rescaled to the acquisition's
FILM_MAX = 2**BITS_STORED - 1
# LUT Data as US must stay under 64 KB in explicit VR; as OW it could be longer, but readers (ours
# included: medvlm.dicom.pixels) handle US best, so LUT films are at most 14 bits.
MAX_LUT_ENTRIES = 32767
REASON_MAX = 64  # Reason for the Requested Procedure is LO: 64 characters (the manifest keeps the whole text)
# (value, scheme, meaning): CID 4031 anatomic region, CID 4010 view, CID 19/20 patient orientation.
CHEST = ("816094009", "SCT", "Chest")
VIEW_CODES = {
    "PA": ("272479007", "SCT", "postero-anterior"),
    "AP": ("399348003", "SCT", "antero-posterior"),
    "LL": ("399173006", "SCT", "left lateral"),
}
RECUMBENT = ("102538003", "SCT", "recumbent")
SUPINE = ("40199007", "SCT", "supine")
# Film columns run to the patient's left on frontal films (shown as if facing the patient), to the
# posterior on the lateral atlas (projected along left-right, columns = the CT's anterior-posterior axis).
ORIENTATION = {"PA": ["L", "F"], "AP": ["L", "F"], "AP_SUPINE": ["L", "F"], "LL": ["P", "F"]}
DESCRIPTION = {"PA": "PA", "AP": "AP", "AP_SUPINE": "AP SUPINE", "LL": "LATERAL"}


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
    number: int = 1  # the image within the study: its series and instance number (2: the lateral)

    @property
    def study_uid(self) -> UID:
        return generate_uid(entropy_srcs=[self.key, "study"])

    @property
    def series_uid(self) -> UID:
        return generate_uid(entropy_srcs=[self.key, "series", *self._image()])

    @property
    def sop_uid(self) -> UID:
        return generate_uid(entropy_srcs=[self.key, "instance", *self._image()])

    def _image(self) -> list[str]:
        return [] if self.number == 1 else [str(self.number)]  # image 1 keeps the UIDs it always had

    def image(self, number: int) -> StudyIdentity:
        """The same patient and study, another image (its own series and instance)."""
        return replace(self, number=number)

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


class FilmFormatError(SynthError, ValueError):
    """Pixels the writer cannot store as a film (a ValueError too, as callers caught before)."""


def stored_pixels(pixels: np.ndarray, acq: Acquisition) -> np.ndarray:
    """The 12-bit bone-bright film at the file's bit depth, inverted for MONOCHROME1."""
    top = 2**acq.bits_stored - 1
    if top == FILM_MAX:
        out = pixels
    else:  # integer rounding: pixels * top / FILM_MAX to the nearest
        out = ((pixels.astype(np.uint32) * top + FILM_MAX // 2) // FILM_MAX).astype(np.uint16)
    return (top - out).astype(np.uint16) if acq.photometric == "MONOCHROME1" else out


def _voi(ds: Dataset, window: tuple[float, float], acq: Acquisition) -> None:
    """The film's window (given on the 12-bit bone-bright film) in stored values, as a window or a LUT."""
    top = 2**acq.bits_stored - 1
    centre, width = window[0] * top / FILM_MAX, max(window[1] * top / FILM_MAX, 2.0)
    if acq.photometric == "MONOCHROME1":
        centre = top - centre
    if not acq.voi_lut:
        ds.WindowCenter, ds.WindowWidth = round(centre, 1), round(width, 1)
        ds.WindowCenterWidthExplanation = "SYNTHETIC DEFAULT"
        return
    first = int(np.clip(centre - width / 2, 0, top))
    entries = int(np.clip(centre + width / 2, 0, top)) - first + 1
    if entries > MAX_LUT_ENTRIES:
        raise FilmFormatError(
            f"a VOI LUT over {entries} stored values does not fit one US LUT Data element "
            f"(at most {MAX_LUT_ENTRIES}); use a window for {acq.bits_stored}-bit films"
        )
    ramp = np.linspace(-3.0, 3.0, max(entries, 2))[:entries]
    lut = np.rint(65535 / (1 + np.exp(-ramp))).astype(np.uint16)  # a sigmoid, as CR vendors ship
    item = Dataset()
    item.add_new("LUTDescriptor", "US", [entries, first, 16])  # 8 or 16 (PS3.3 C.11.2.1.1)
    item.LUTExplanation = "SYNTHETIC SIGMOID"
    item.add_new("LUTData", "US", lut.tolist())
    ds.VOILUTSequence = Sequence([item])


def film_dataset(
    pixels: np.ndarray,
    spacing_mm: float,
    who: StudyIdentity,
    window: tuple[float, float],
    acq: Acquisition | None = None,
    indication: str = "",
) -> Dataset:
    """The CR/DX dataset for a uint16 12-bit film (bone bright), written as ``acq`` says (default: DX,
    MONOCHROME2, 12 bits, PA, a window); ``indication`` goes where IHE Scheduled Workflow puts the
    request's reason (Request Attributes Sequence > Reason for the Requested Procedure)."""
    if pixels.dtype != np.uint16 or pixels.ndim != 2:
        raise FilmFormatError(f"expected a 2-D uint16 film, got {pixels.dtype} with shape {pixels.shape}")
    acq = acq or Acquisition()
    dx = acq.modality == "DX"
    sop_class = DX_FOR_PRESENTATION if dx else CR_IMAGE
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = who.sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = generate_uid(entropy_srcs=[GENERATOR])
    meta.ImplementationVersionName = "MEDVLM_SYNTH01"
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
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
    view = DESCRIPTION[acq.projection]
    ds.StudyInstanceUID = who.study_uid
    ds.StudyDate, ds.StudyTime = who.study_date, who.study_time
    ds.ReferringPhysicianName = ""
    ds.StudyID = who.accession[-8:]
    ds.AccessionNumber = who.accession
    ds.StudyDescription = f"XR CHEST {view}"
    if indication:
        request = Dataset()
        request.RequestedProcedureID = who.accession[-8:]
        request.ReasonForTheRequestedProcedure = indication[:REASON_MAX]
        ds.RequestAttributesSequence = Sequence([request])
    # Series (General + CR/DX Series)
    ds.Modality = acq.modality
    ds.SeriesInstanceUID = who.series_uid
    ds.SeriesNumber = who.number
    ds.SeriesDescription = f"CHEST {view} (synthetic, CT-derived)"
    if dx:
        ds.PresentationIntentType = "FOR PRESENTATION"
    ds.BodyPartExamined = "CHEST"
    # Equipment
    ds.Manufacturer = "MedVLM"
    ds.ManufacturerModelName = "synthetic radiograph generator"
    ds.SoftwareVersions = GENERATOR
    ds.InstitutionName = "SYNTHETIC"
    # General image + CR/DX image
    ds.InstanceNumber = who.number
    ds.PatientOrientation = ORIENTATION[acq.projection]
    ds.ContentDate, ds.ContentTime = who.study_date, who.study_time
    ds.AcquisitionDate, ds.AcquisitionTime = who.study_date, who.study_time
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.BurnedInAnnotation = "NO"  # side markers and "PORTABLE" text identify no one
    ds.LossyImageCompression = "00"
    ds.PixelIntensityRelationship = "LOG"
    # Higher stored values = less X-ray reached the detector (MONOCHROME2) or more (MONOCHROME1).
    ds.PixelIntensityRelationshipSign = -1 if acq.photometric == "MONOCHROME2" else 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.PresentationLUTShape = "IDENTITY" if acq.photometric == "MONOCHROME2" else "INVERSE"
    _voi(ds, window, acq)
    _positioning_and_pixels(ds, pixels, spacing_mm, acq)
    return ds


def _positioning_and_pixels(ds: Dataset, pixels: np.ndarray, spacing_mm: float, acq: Acquisition) -> None:
    """The anatomy, view, patient position and detector attributes, then the pixel module."""
    dx = acq.modality == "DX"
    # Anatomy, positioning, detector
    ds.ImageLaterality = "U"
    ds.AnatomicRegionSequence = Sequence([_code(*CHEST)])
    ds.ViewPosition = acq.view_position
    ds.ViewCodeSequence = Sequence([_code(*VIEW_CODES[acq.view_position])])
    if acq.projection == "AP_SUPINE":
        position = _code(*RECUMBENT)
        position.PatientOrientationModifierCodeSequence = Sequence([_code(*SUPINE)])
        ds.PatientOrientationCodeSequence = Sequence([position])
    if dx:
        if "PatientOrientationCodeSequence" not in ds:  # PatientPosition shall not be present with it
            ds.PatientPosition = ""
        ds.PositionerType = ""  # Type 2: no positioner for an erect film
        ds.DetectorType = "DIRECT"
        ds.PixelSpacingCalibrationType = "GEOMETRY"
        ds.PixelSpacingCalibrationDescription = "parallel projection: no magnification"
        ds.EstimatedRadiographicMagnificationFactor = 1.0
        ds.AcquisitionContextSequence = Sequence()
    ds.ImagerPixelSpacing = [round(spacing_mm, 6)] * 2
    ds.PixelSpacing = [round(spacing_mm, 6)] * 2
    # Pixels
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = acq.photometric
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, acq.bits_stored, acq.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(stored_pixels(pixels, acq), dtype="<u2").tobytes()


WINDOW_HEADROOM = 0.05  # the window's top lies this share of its width above the film's 99.9th percentile


def default_window(pixels: np.ndarray) -> tuple[float, float]:
    """Centre and width from the film's 1st percentile to a little above its 99.9th (12-bit film values).

    Vendors' default windows show the whole processed film. A window to the 99th percentile (as before)
    turned the brightest 1-2 % of every synthetic film (mediastinum, spine; real films 0.0 %) flat white."""
    lo, hi = np.percentile(pixels[::2, ::2], [1, 99.9])
    hi = hi + WINDOW_HEADROOM * (hi - lo)
    return float((lo + hi) / 2), float(max(hi - lo, 1.0))


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    spacing_mm: float,
    who: StudyIdentity,
    acq: Acquisition | None = None,
    indication: str = "",
) -> Path:
    """Write the film; pass the film's ``acquisition`` to write it as taken (modality, photometric, bits,
    view), else it is the plain DX MONOCHROME2 12-bit PA file; ``indication``: the request's reason."""
    ds = film_dataset(pixels, spacing_mm, who, default_window(pixels), acq, indication)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
