"""De-identification before anything leaves the clinical boundary (training data, exports for research).

DICOM: the PS3.15 Basic Application Level Confidentiality Profile (``compliance.deid_profile``): listed
attributes removed, emptied or pseudonymised; every person name emptied; private attributes, curves and
overlays removed; every instance UID remapped through a keyed hash, so the same UID maps to the same new
UID in every file (references between instances stay intact) and nobody without the key can map back.
Pixel data cannot be cleaned here, so an instance whose pixels carry (or may carry) burned-in text is
refused rather than passed on.

Text: ``deidentify_text`` (in ``compliance.deid_text``) for report text of signed corrections.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import uuid
from collections.abc import Callable
from pathlib import Path

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID_dictionary

from medvlm.compliance.deid_profile import (
    BURNED_IN_RISK_MODALITIES,
    DUMMY,
    EMPTY,
    METHOD,
    PATIENT_CHARACTERISTICS,
    REMOVE,
    UID_KEEP,
)
from medvlm.compliance.deid_text import deidentify_text  # re-exported: one import for both kinds
from medvlm.compliance.errors import DeidentificationError

__all__ = ["DeidOptions", "UidMapper", "deidentify_dataset", "deidentify_file", "deidentify_text"]


class UidMapper:
    """Keyed, consistent UID remapping: ``2.25.<uuid from HMAC-SHA256(key, uid)>``."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise DeidentificationError(
                f"the de-identification key must be at least 16 bytes, got {len(key)}")
        self._key = key

    def __call__(self, uid: str) -> str:
        digest = hmac.new(self._key, uid.strip().encode("ascii", "replace"), hashlib.sha256).digest()
        return f"2.25.{uuid.UUID(bytes=digest[:16], version=4).int}"

    def pseudonym(self, value: str, length: int = 12) -> str:
        """A stable opaque token for an identifier (patient id -> same token every time)."""
        digest = hmac.new(self._key, b"id:" + value.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:length].upper()


class DeidOptions:
    """Profile options (PS3.15 E.3). Only what the project needs: patient characteristics, risk modalities."""

    def __init__(self, *, retain_patient_characteristics: bool = False,
                 accept_unknown_burned_in: bool = False) -> None:
        self.retain_patient_characteristics = retain_patient_characteristics
        self.accept_unknown_burned_in = accept_unknown_burned_in


def _check_pixels_safe(ds: Dataset, options: DeidOptions) -> None:
    sop = ds.get("SOPInstanceUID", "?")
    flag = str(ds.get("BurnedInAnnotation", "")).upper()
    if flag == "YES":
        raise DeidentificationError(
            f"instance {sop} has BurnedInAnnotation YES: its pixels carry text that this profile cannot "
            "clean; refusing to de-identify it")
    if str(ds.get("RecognizableVisualFeatures", "")).upper() == "YES":
        raise DeidentificationError(
            f"instance {sop} has RecognizableVisualFeatures YES (e.g. a face); refusing to de-identify it")
    modality = str(ds.get("Modality", "")).upper()
    if not flag and modality in BURNED_IN_RISK_MODALITIES and not options.accept_unknown_burned_in:
        raise DeidentificationError(
            f"instance {sop} is modality {modality}, which often has burned-in text, and has no "
            "BurnedInAnnotation attribute; refusing (review the pixels, then pass "
            "accept_unknown_burned_in=True)")


def _is_registry_uid(value: str) -> bool:
    return value in UID_dictionary  # SOP classes, transfer syntaxes, well-known frames: not instances


def _walk(ds: Dataset, visit: Callable[[Dataset, DataElement], None]) -> None:
    for elem in list(ds):
        if elem.VR == "SQ":
            for item in elem.value:
                _walk(item, visit)
        visit(ds, elem)


def deidentify_dataset(ds: Dataset, key: bytes, options: DeidOptions | None = None) -> Dataset:
    """A de-identified copy of ``ds`` (the input is not modified).

    Raises ``DeidentificationError`` for pixels with (possibly) burned-in text.
    """
    options = options or DeidOptions()
    _check_pixels_safe(ds, options)
    mapper = UidMapper(key)
    out = copy.deepcopy(ds)
    out.remove_private_tags()
    keep = PATIENT_CHARACTERISTICS if options.retain_patient_characteristics else frozenset()
    patient_id = str(ds.get("PatientID", "") or "")

    def visit(parent: Dataset, elem: DataElement) -> None:
        group = elem.tag.group
        if 0x5000 <= group <= 0x50FF or 0x6000 <= group <= 0x60FF:  # curves and overlays (may hold text)
            del parent[elem.tag]
            return
        keyword = elem.keyword
        if keyword in keep:
            return
        if keyword in REMOVE:
            del parent[elem.tag]
        elif keyword in EMPTY or (elem.VR == "PN" and keyword not in DUMMY):
            elem.value = ""  # type: ignore[assignment]
        elif keyword in DUMMY:
            elem.value = _dummy(keyword, patient_id, mapper)  # type: ignore[assignment]
        elif elem.VR == "UI" and keyword not in UID_KEEP and elem.value:
            values = elem.value if isinstance(elem.value, pydicom.multival.MultiValue) else [elem.value]
            mapped = [v if _is_registry_uid(str(v)) else mapper(str(v)) for v in values]
            elem.value = mapped if len(mapped) > 1 else mapped[0]  # type: ignore[assignment]

    _walk(out, visit)
    if hasattr(out, "file_meta") and "MediaStorageSOPInstanceUID" in out.file_meta:
        out.file_meta.MediaStorageSOPInstanceUID = out.get("SOPInstanceUID",
                                                           mapper(str(out.file_meta.MediaStorageSOPInstanceUID)))
    _mark(out, options)
    return out


def _dummy(keyword: str, patient_id: str, mapper: UidMapper) -> str:
    if keyword == "PatientID":
        return f"ANON{mapper.pseudonym(patient_id)}" if patient_id else "ANON"
    if keyword == "PatientName":
        return f"ANON^{mapper.pseudonym(patient_id, 8)}" if patient_id else "ANON"
    return "ANON" if keyword != "VerifyingOrganization" else "REMOVED"


def _mark(ds: Dataset, options: DeidOptions) -> None:
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    codes = [("113100", "Basic Application Confidentiality Profile")]
    if options.retain_patient_characteristics:
        codes.append(("113108", "Retain Patient Characteristics Option"))
    sequence = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        sequence.append(item)
    ds.DeidentificationMethodCodeSequence = sequence
    ds.LongitudinalTemporalInformationModified = "REMOVED"


def deidentify_file(source: Path, destination: Path, key: bytes, options: DeidOptions | None = None) -> Path:
    """Read ``source``, write its de-identified copy to ``destination`` (parents created)."""
    try:
        ds = pydicom.dcmread(source)
    except (OSError, InvalidDicomError) as exc:
        raise DeidentificationError(f"{source} cannot be read as DICOM: {exc}") from exc
    out = deidentify_dataset(ds, key, options)
    destination.parent.mkdir(parents=True, exist_ok=True)
    out.save_as(destination, enforce_file_format=True)
    return destination
