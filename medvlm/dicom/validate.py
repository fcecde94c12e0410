"""What an instance must carry before we store it, and the index fields taken from it.

A report needs the SOP Instance, Study and Series UIDs, the Modality, and for an image a complete
image pixel module whose declared size is within ``max_pixels`` (checked before any decoding, so a
header claiming 100000x100000 costs nothing). Non-image objects (SR, RT plans, waveforms, palettes)
are rejected: there is nothing in them to draft a report from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID

from medvlm.errors import DicomError, LimitExceededError
from medvlm.settings import Settings

_REQUIRED = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality")
_PIXEL_MODULE = ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel", "PhotometricInterpretation")
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def _text(ds: Dataset, keyword: str, limit: int = 64) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        value = "\\".join(str(v) for v in value)
    return str(value).strip()[:limit]


def _int(ds: Dataset, keyword: str, default: int | None = None) -> int | None:
    value = ds.get(keyword, None)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise DicomError(f"{keyword} must be an integer, got {value!r}") from exc


def _first_float(ds: Dataset, keyword: str) -> float | None:
    value = ds.get(keyword, None)
    if value is None or value == "":
        return None
    if not isinstance(value, str | bytes) and hasattr(value, "__getitem__"):
        value = value[0] if len(value) else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None  # a malformed window is not a reason to refuse the image; we fall back to min/max


def frame_count(ds: Dataset) -> int:
    frames = _int(ds, "NumberOfFrames", 1) or 1
    if frames < 1:
        raise DicomError(f"NumberOfFrames must be at least 1, got {frames}")
    return frames


def check_pixel_limits(ds: Dataset, settings: Settings) -> int:
    """Declared Rows x Columns x Frames x Samples against ``max_pixels``; returns the count."""
    rows, cols = _int(ds, "Rows", 0) or 0, _int(ds, "Columns", 0) or 0
    samples = _int(ds, "SamplesPerPixel", 1) or 1
    frames = frame_count(ds)
    if rows <= 0 or cols <= 0:
        raise DicomError(f"image declares {rows}x{cols} pixels; Rows and Columns must be positive")
    total = rows * cols * frames * samples
    if total > settings.max_pixels:
        raise LimitExceededError(
            f"declared image {rows}x{cols} x {frames} frame(s) x {samples} sample(s) = {total} pixels, over "
            f"the limit of {settings.max_pixels} (MEDVLM_MAX_PIXELS); not decoded")
    return total


@dataclass(frozen=True)
class InstanceInfo:
    """Everything the index needs from one validated image instance."""

    patient: dict[str, Any]
    study: dict[str, Any]
    series: dict[str, Any]
    instance: dict[str, Any]

    @property
    def sop_instance_uid(self) -> str:
        return str(self.instance["sop_instance_uid"])

    @property
    def study_instance_uid(self) -> str:
        return str(self.study["study_instance_uid"])


_UID_FORM = re.compile(r"[0-9]+(\.[0-9]+)*")  # DICOM UI: digits and dots (the API's path format too)


def _uid(ds: Dataset, keyword: str) -> str:
    value = str(ds.get(keyword, "")).strip().rstrip("\x00")
    if not value or len(value) > 64 or not _UID_FORM.fullmatch(value):
        # A study indexed under a UID of another form could be listed but never opened by its UID.
        raise DicomError(f"{keyword} must be a UID of 1 to 64 digits and dots, got {value[:80]!r}")
    return value


def _sop_class_name(uid: str) -> str:
    name = UID(uid).name
    return f"{name} ({uid})" if name and name != uid else uid


def validate_instance(ds: Dataset, settings: Settings) -> InstanceInfo:
    """The index fields of an image instance, or ``DicomError`` naming what is missing or wrong."""
    missing = [k for k in _REQUIRED if not str(ds.get(k, "")).strip()]
    if missing:
        raise DicomError(f"missing required attribute(s): {', '.join(missing)}")
    sop_class = _uid(ds, "SOPClassUID")
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        if "Rows" in ds or "Columns" in ds:
            raise DicomError("image header without Pixel Data (7FE0,0010): nothing to decode")
        raise DicomError(f"not an image: SOP Class {_sop_class_name(sop_class)} carries no pixel data")
    if "PixelData" not in ds:
        raise DicomError("float pixel data (parametric maps) is not supported; expected integer Pixel Data")
    missing = [k for k in _PIXEL_MODULE if k not in ds or ds.get(k) in (None, "")]
    if missing:
        raise DicomError(f"image pixel module incomplete: missing {', '.join(missing)}")
    check_pixel_limits(ds, settings)
    meta = getattr(ds, "file_meta", None)
    bits_allocated = _int(ds, "BitsAllocated") or 0
    return InstanceInfo(
        patient={"patient_id": _text(ds, "PatientID"), "issuer": _text(ds, "IssuerOfPatientID"),
                 "name": _text(ds, "PatientName", 324), "birth_date": _text(ds, "PatientBirthDate", 8),
                 "sex": _text(ds, "PatientSex", 16)},
        study={"study_instance_uid": _uid(ds, "StudyInstanceUID"), "study_date": _text(ds, "StudyDate", 8),
               "study_time": _text(ds, "StudyTime", 16), "accession_number": _text(ds, "AccessionNumber"),
               "study_id": _text(ds, "StudyID", 16), "description": _text(ds, "StudyDescription", 256),
               "referring_physician": _text(ds, "ReferringPhysicianName", 324)},
        series={"series_instance_uid": _uid(ds, "SeriesInstanceUID"), "modality": _text(ds, "Modality", 16),
                "series_number": _safe_int(ds, "SeriesNumber"),
                "description": _text(ds, "SeriesDescription", 256),
                "body_part": _text(ds, "BodyPartExamined"),
                "view_position": _text(ds, "ViewPosition", 16)},
        instance={"sop_instance_uid": _uid(ds, "SOPInstanceUID"), "sop_class_uid": sop_class,
                  "transfer_syntax_uid": str(meta.get("TransferSyntaxUID", "")) if meta is not None else "",
                  "instance_number": _safe_int(ds, "InstanceNumber"),
                  "rows": _int(ds, "Rows"), "columns": _int(ds, "Columns"), "frames": frame_count(ds),
                  "samples_per_pixel": _int(ds, "SamplesPerPixel", 1),
                  "photometric": _text(ds, "PhotometricInterpretation", 16),
                  "bits_allocated": bits_allocated,
                  "bits_stored": _int(ds, "BitsStored", bits_allocated) or bits_allocated,
                  "pixel_representation": _int(ds, "PixelRepresentation", 0) or 0,
                  "window_center": _first_float(ds, "WindowCenter"),
                  "window_width": _first_float(ds, "WindowWidth"),
                  "rescale_slope": _first_float(ds, "RescaleSlope") or 1.0,
                  "rescale_intercept": _first_float(ds, "RescaleIntercept") or 0.0},
    )


def _safe_int(ds: Dataset, keyword: str) -> int | None:
    """Optional numbering fields: a malformed value is dropped rather than refusing the image."""
    try:
        value = _int(ds, keyword)
    except DicomError:
        return None
    return value if value is None or abs(value) < 2**31 else None
