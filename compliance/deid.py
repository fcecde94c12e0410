"""De-identification before anything leaves the clinical boundary (training data, exports for research).

DICOM: the PS3.15 Basic Application Level Confidentiality Profile (``compliance.deid_profile``: Table
E.1-1 read from a maintained copy of the standard's table), applied in every sequence item, the SR
content tree included; every person name, AE title, date and time the table does not list emptied;
file meta sender titles, private attributes, curves and overlays removed; every instance UID remapped
through a keyed hash, so the same UID maps to the same new UID in every file (references between
instances stay intact) and nobody without the key can map back. Pixel data cannot be cleaned here, so
an instance whose pixels carry (or may carry: DX/CR without a BurnedInAnnotation flag, unless the site
says it has reviewed its sources) burned-in text is refused rather than passed on. Sequences nested
past a limit are refused before anything is copied.

Text: ``deidentify_text`` (in ``compliance.deid_text``) for report text of signed corrections.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import uuid
from pathlib import Path

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID_dictionary

from medvlm.compliance.deid_profile import (
    BURNED_IN_RISK_MODALITIES,
    FILE_META_REMOVE,
    METHOD,
    PATIENT_CHARACTERISTICS,
    UID_KEEP,
    annex_e,
)
from medvlm.compliance.deid_text import deidentify_text  # re-exported: one import for both kinds
from medvlm.compliance.errors import DeidentificationError
from medvlm.compliance.nesting import DEFAULT_MAX_SEQUENCE_DEPTH, sequence_depth

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
                 accept_unknown_burned_in: bool = False,
                 max_sequence_depth: int = DEFAULT_MAX_SEQUENCE_DEPTH) -> None:
        self.retain_patient_characteristics = retain_patient_characteristics
        self.accept_unknown_burned_in = accept_unknown_burned_in  # the site has reviewed its DX/CR sources
        self.max_sequence_depth = max_sequence_depth


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


_DUMMIES = {"DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000Y", "IS": "0", "DS": "0",
            "CS": "ANON", "UR": ""}
_BINARY = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})
_NUMBERS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"})
_CAUGHT_BY_VR = frozenset({"PN", "AE", "DA", "DT", "TM"})  # names, stations, times: emptied wherever found


def _empty(elem: DataElement) -> None:
    if elem.VR == "SQ":
        elem.value = []  # type: ignore[assignment]
    else:
        elem.value = b"" if elem.VR in _BINARY else None if elem.VR in _NUMBERS else ""  # type: ignore[assignment]


def _dummy_value(elem: DataElement) -> object:
    if elem.VR in _BINARY:
        return b""
    if elem.VR in _NUMBERS:
        return 0
    return _DUMMIES.get(elem.VR, "ANON")


def _remap(elem: DataElement, mapper: UidMapper) -> None:
    if not elem.value:
        return
    values = elem.value if isinstance(elem.value, pydicom.multival.MultiValue) else [elem.value]
    mapped = [v if _is_registry_uid(str(v)) else mapper(str(v)) for v in values]
    elem.value = mapped if len(mapped) > 1 else mapped[0]  # type: ignore[assignment]


def deidentify_dataset(ds: Dataset, key: bytes, options: DeidOptions | None = None) -> Dataset:
    """A de-identified copy of ``ds`` (the input is not modified): Table E.1-1 applied at every depth.

    Raises ``DeidentificationError`` for pixels with (possibly) burned-in text and for sequences nested
    deeper than ``options.max_sequence_depth`` (checked before anything is copied or walked).
    """
    options = options or DeidOptions()
    mapper = UidMapper(key)
    try:
        depth = sequence_depth(ds, stop_after=options.max_sequence_depth)
    except Exception as exc:  # pydicom raises many types for a malformed nested item
        raise DeidentificationError(f"a nested sequence cannot be read: {exc}") from exc
    if depth > options.max_sequence_depth:
        raise DeidentificationError(
            f"sequences nested more than {options.max_sequence_depth} levels deep; refusing to de-identify")
    _check_pixels_safe(ds, options)
    out = copy.deepcopy(ds)
    table = annex_e()
    keep = PATIENT_CHARACTERISTICS if options.retain_patient_characteristics else frozenset()
    patient_id = str(ds.get("PatientID", "") or "")
    stack = [out]
    while stack:  # no recursion: depth is bounded above, but a loop needs no frames at all
        current = stack.pop()
        for elem in list(current):
            group = elem.tag.group
            if elem.tag.is_private or 0x5000 <= group <= 0x50FF or 0x6000 <= group <= 0x60FF:
                del current[elem.tag]  # private data, curves and overlays (overlays may hold text)
                continue
            if elem.keyword in keep:
                continue
            action = table.action(int(elem.tag))
            if action == "X":
                del current[elem.tag]
            elif action == "Z" or (action == "D" and elem.VR == "SQ"):  # dummy items could still name
                _empty(elem)
            elif action == "D" and elem.VR == "UI":
                _remap(elem, mapper)
            elif action == "D":
                elem.value = _dummy_value(elem)  # type: ignore[assignment]
            elif action == "P":
                elem.value = _pseudonym(elem.keyword, patient_id, mapper)  # type: ignore[assignment]
            elif elem.VR == "SQ":  # K, or not in the table: keep the items, clean inside them
                stack.extend(elem.value)
            elif action == "U" or (elem.VR == "UI" and elem.keyword not in UID_KEEP):
                _remap(elem, mapper)
            elif elem.VR in _CAUGHT_BY_VR:
                _empty(elem)
    meta = getattr(out, "file_meta", None)
    if meta is not None:
        for tag in FILE_META_REMOVE:
            if tag in meta:
                del meta[tag]
        if "MediaStorageSOPInstanceUID" in meta:
            meta.MediaStorageSOPInstanceUID = out.get("SOPInstanceUID",
                                                      mapper(str(meta.MediaStorageSOPInstanceUID)))
    _mark(out, options)
    return out


def _pseudonym(keyword: str, patient_id: str, mapper: UidMapper) -> str:
    if keyword == "PatientID":
        return f"ANON{mapper.pseudonym(patient_id)}" if patient_id else "ANON"
    return f"ANON^{mapper.pseudonym(patient_id, 8)}" if patient_id else "ANON"


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
