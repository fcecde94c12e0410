"""The attribute actions of the DICOM Basic Application Level Confidentiality Profile (PS3.15 Table E.1-1).

The table is not typed in here (a hand list drifts from the standard): it is read as data from the
``dicom-anonymizer`` wheel (BSD-3-Clause), whose maintainers generate ``dicomfields_2026c.py`` from the
standard's own XML. The file is parsed with ``ast`` (lists of tag tuples), never imported or executed.

Actions: ``X`` remove, ``Z`` empty, ``D`` dummy value, ``U`` remapped UID (``compliance.deid``), ``K`` keep
items but clean inside (``X/Z/U*`` reference sequences, the SR Content Sequence), ``P`` consistent
pseudonym. Where the standard offers a choice the stricter one that keeps the object valid is taken:
``Z/D`` -> Z, ``X/Z`` -> Z, ``X/D`` -> X, ``X/Z/D`` -> Z. Attributes the table does not list are still caught
by ``compliance.deid``'s rules by VR (person names, AE titles, dates and times, instance UIDs, private
tags, curves and overlays).
"""

from __future__ import annotations

import ast
import importlib.metadata
from functools import cache
from pathlib import Path

from pydicom.tag import Tag

EDITION = "2026c"  # the DICOM edition the table was generated from
_TABLE = f"dicomanonymizer/dicom_anonymization_databases/dicomfields_{EDITION}.py"
_CHOICES = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z", "X_Z_TAGS": "Z",
            "X_D_TAGS": "X", "X_Z_D_TAGS": "Z", "X_Z_U_STAR_TAGS": "K"}

# Project choices over the table, each for a reason:
_OVERRIDES = {
    # a keyed pseudonym instead of an empty value: one patient's studies stay linked for training splits
    "PatientName": "P", "PatientID": "P",
    # D on the SR tree means "dummy content": its items are kept and cleaned (dates, names, UIDs, text)
    "ContentSequence": "K",
    # not in Table E.1-1, but free text naming people in SR content items and presentation states
    "TextValue": "D", "ContentDescription": "X",
}
# File meta attributes that name the sending site (PS3.10 7.1), not covered by the table.
FILE_META_REMOVE = frozenset({0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102})

# Kept by the Retain Patient Characteristics Option (DCM 113108): age, sex, size, weight matter clinically.
PATIENT_CHARACTERISTICS = frozenset({"PatientAge", "PatientSex", "PatientSize", "PatientWeight",
                                     "EthnicGroup", "PregnancyStatus", "SmokingStatus", "PatientSexNeutered"})

# UIDs that identify a definition, not an instance or a person: never remapped.
UID_KEEP = frozenset({"SOPClassUID", "MediaStorageSOPClassUID", "ReferencedSOPClassUID", "TransferSyntaxUID",
                      "ImplementationClassUID", "CodingSchemeUID", "ContextUID", "MappingResourceUID",
                      "ReferencedSOPClassUIDInFile", "ReferencedTransferSyntaxUIDInFile",
                      "SOPClassesInStudy", "RelatedGeneralSOPClassUID", "OriginalSpecializedSOPClassUID",
                      "PrivateInformationCreatorUID", "ContextGroupExtensionCreatorUID"})

# Modalities whose pixels may carry burned-in text (a name or date printed on a film or screen); an
# absent BurnedInAnnotation there is refused unless the site has reviewed its sources (DX/CR included:
# many plate readers print the patient's name and the date into the image).
BURNED_IN_RISK_MODALITIES = frozenset({"US", "SC", "OT", "XC", "ES", "GM", "SM", "DOC", "ECG", "IVUS",
                                       "CR", "DX", "MG", "RF", "XA", "PX", "IO"})

METHOD = f"PS3.15 E.1 Basic Profile {EDITION} (MedVLM deid 2)"  # LO: at most 64 characters


class AnnexE:
    """Table E.1-1 as ``action(tag)``: exact tags, then the masked groups (curves, overlays)."""

    def __init__(self, exact: dict[int, str], masked: list[tuple[int, int, str]]) -> None:
        self.exact = exact
        self.masked = masked  # (value, mask, action) over the 32-bit tag

    def action(self, tag: int) -> str | None:
        found = self.exact.get(tag)
        if found is not None:
            return found
        for value, mask, action in self.masked:
            if tag & mask == value:
                return action
        return None


def _table_path() -> Path:
    try:
        return Path(str(importlib.metadata.distribution("dicom-anonymizer").locate_file(_TABLE)))
    except importlib.metadata.PackageNotFoundError as exc:
        raise RuntimeError("dicom-anonymizer (the PS3.15 Annex E table) is not installed") from exc


@cache
def annex_e() -> AnnexE:
    """The table, read once; an unreadable or unexpected table is an error, never an empty profile."""
    tree = ast.parse(_table_path().read_text(encoding="utf-8"))
    exact: dict[int, str] = {}
    masked: list[tuple[int, int, str]] = []
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)):
            continue
        action = _CHOICES.get(node.targets[0].id)
        if action is None:
            continue
        for entry in ast.literal_eval(node.value):
            if len(entry) == 2:
                exact[(entry[0] << 16) | entry[1]] = action
            else:  # (group, element, group mask, element mask)
                masked.append((((entry[0] << 16) | entry[1]), (entry[2] << 16) | entry[3], action))
    if len(exact) < 500:
        raise RuntimeError(f"the Annex E table at {_table_path()} lists only {len(exact)} attributes")
    for keyword, action in _OVERRIDES.items():
        exact[int(Tag(keyword))] = action
    return AnnexE(exact, masked)
