"""DICOM SR documents (Basic Text SR, Enhanced SR, Comprehensive SR) -> ``SourceReport``.

The text is every TEXT content item of the tree; an item whose concept name (or an ancestor container's)
says impression / conclusion goes to the impression, the rest to the findings. Identifiers come from the
document's own study (an SR is stored in the study it reports on), accession and patient attributes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from medvlm.dataset.importer.reports import ImportInputError, SourceReport, parse_date

_IMPRESSION_WORDS = ("impression", "conclusion")


def _concept(item: Dataset) -> str:
    seq = item.get("ConceptNameCodeSequence")
    return str(seq[0].get("CodeMeaning", "")).lower() if seq else ""


def _texts(item: Dataset, in_impression: bool) -> Iterator[tuple[bool, str]]:
    for child in item.get("ContentSequence", []) or []:
        concept = _concept(child)
        impression = in_impression or any(w in concept for w in _IMPRESSION_WORDS)
        if child.get("ValueType") == "TEXT" and str(child.get("TextValue", "")).strip():
            yield impression, str(child.TextValue).strip()
        yield from _texts(child, impression)


def sr_report(ds: Dataset, where: str) -> SourceReport:
    if str(ds.get("Modality", "")) != "SR":
        raise ImportInputError(f"{where}: modality {ds.get('Modality', 'missing')!r}, not an SR document")
    parts = list(_texts(ds, False))
    date = str(ds.get("VerificationDateTime", "") or ds.get("ContentDate", "") or ds.get("StudyDate", ""))
    verifier = ds.get("VerifyingObserverSequence")
    names = [str(ds.get("PatientName", "")), str(ds.get("ReferringPhysicianName", ""))]
    names += [str(v.get("VerifyingObserverName", "")) for v in verifier or []]
    return SourceReport(
        where, "sr",
        findings_text="\n".join(t for imp, t in parts if not imp),
        impression="\n".join(t for imp, t in parts if imp),
        study_uid=str(ds.get("StudyInstanceUID", "")),
        accession=str(ds.get("AccessionNumber", "")),
        patient_id=str(ds.get("PatientID", "")),
        date=parse_date(date, where),
        names=[n for n in names if n],
    )


def read_sr_file(path: Path) -> SourceReport:
    try:
        ds = pydicom.dcmread(path)
    except (OSError, InvalidDicomError) as exc:
        raise ImportInputError(f"{path}: cannot be read as DICOM ({exc})") from None
    return sr_report(ds, str(path))
