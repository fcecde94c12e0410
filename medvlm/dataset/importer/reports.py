"""Report exports read into one shape: CSV / JSONL rows, HL7v2 ORU^R01 messages, DICOM SR documents.

Every reader gives ``SourceReport`` objects that carry the identifiers pairing uses (study UID, accession,
patient id + date), the text split into findings and impression where the source says which is which, and
the names the text de-identification must remove. A file that cannot be read at all raises
``ImportInputError`` naming the file and line; a readable entry without text is kept and refused later
with its reason, so one empty row does not stop a 10,000-study import.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medvlm.dataset.errors import DatasetError


class ImportInputError(DatasetError):
    """A report or study source that cannot be read (bad file, missing column, bad date)."""


@dataclass
class SourceReport:
    where: str  # file:line or file#message: for the operator, never written into the dataset
    fmt: str  # csv | jsonl | hl7 | sr
    findings_text: str
    impression: str
    study_uid: str = ""
    accession: str = ""
    patient_id: str = ""
    date: dt.date | None = None
    names: list[str] = field(default_factory=list)  # patient, signer: removed from the text

    @property
    def text(self) -> str:
        return f"{self.findings_text}\n{self.impression}".strip()


_IMPRESSION = re.compile(r"^\s*(?:IMPRESSION|CONCLUSION|OPINION)\s*:\s*", re.I | re.M)
_FINDINGS = re.compile(r"^\s*FINDINGS\s*:\s*", re.I | re.M)


def split_sections(text: str) -> tuple[str, str]:
    """(findings, impression) from a report written as one text with an 'IMPRESSION:' heading."""
    text = (text or "").strip()
    parts = _IMPRESSION.split(text, maxsplit=1)
    findings = _FINDINGS.sub("", parts[0]).strip()
    return findings, (parts[1].strip() if len(parts) > 1 else "")


def parse_date(value: str, where: str) -> dt.date | None:
    """YYYYMMDD, YYYY-MM-DD, or an ISO / HL7 timestamp (its date part); empty -> None."""
    value = (value or "").strip()
    if not value:
        return None
    digits = re.sub(r"[^0-9]", "", value[:10])
    try:
        if len(digits) >= 8:
            return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        pass
    raise ImportInputError(f"{where}: date {value!r} is not YYYYMMDD, YYYY-MM-DD or an ISO timestamp")


# Column names a RIS export uses for each field (first present wins).
_COLUMNS = {
    "study_uid": ("study_instance_uid", "study_uid", "studyinstanceuid"),
    "accession": ("accession_number", "accession", "accessionnumber"),
    "patient_id": ("patient_id", "patientid", "mrn"),
    "date": ("signed_date", "signed_at", "report_date", "study_date", "date"),
    "text": ("text", "report", "report_text"),
    "findings": ("findings", "findings_text"),
    "impression": ("impression",),
    "names": ("patient_name", "signed_by", "radiologist", "referring_physician"),
}


def _pick(row: dict[str, Any], key: str) -> str:
    for name in _COLUMNS[key]:
        value = row.get(name)
        if value not in (None, ""):
            return str(value)
    return ""


def _from_row(row: dict[str, Any], where: str, fmt: str) -> SourceReport:
    row = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    findings, impression = _pick(row, "findings"), _pick(row, "impression")
    if not (findings or impression):
        findings, impression = split_sections(_pick(row, "text"))
    names = [str(row[n]) for n in _COLUMNS["names"] if row.get(n)]
    return SourceReport(where, fmt, findings, impression, _pick(row, "study_uid"), _pick(row, "accession"),
                        _pick(row, "patient_id"), parse_date(_pick(row, "date"), where), names)


def _check_columns(columns: set[str], path: Path) -> None:
    if not columns & {*_COLUMNS["text"], *_COLUMNS["findings"], *_COLUMNS["impression"]}:
        names = _COLUMNS["text"] + _COLUMNS["findings"] + _COLUMNS["impression"]
        raise ImportInputError(f"{path}: no report text column; expected one of {', '.join(names)}")
    if not columns & {*_COLUMNS["study_uid"], *_COLUMNS["accession"], *_COLUMNS["patient_id"]}:
        raise ImportInputError(f"{path}: no identifier column; expected a study UID, accession or patient id "
                               f"({', '.join(_COLUMNS['study_uid'] + _COLUMNS['accession'])}, patient_id)")


def read_csv(path: Path) -> Iterator[SourceReport]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        _check_columns({c.strip().lower() for c in reader.fieldnames or []}, path)
        for row in reader:
            yield _from_row(row, f"{path}:{reader.line_num}", "csv")


def read_jsonl(path: Path) -> Iterator[SourceReport]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ImportInputError(f"{where}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise ImportInputError(f"{where}: expected a JSON object, got {type(row).__name__}")
            _check_columns({str(k).lower() for k in row}, Path(where))
            yield _from_row(row, where, "jsonl")


def read_reports(path: Path) -> Iterator[SourceReport]:
    """Reports from one file, by its kind: .csv, .jsonl/.ndjson, HL7 (starts with MSH), DICOM SR."""
    from medvlm.dataset.importer.hl7 import read_hl7
    from medvlm.dataset.importer.sr import read_sr_file

    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from read_csv(path)
    elif suffix in (".jsonl", ".ndjson"):
        yield from read_jsonl(path)
    else:
        head = path.open("rb").read(132)
        if head.lstrip().startswith(b"MSH"):
            yield from read_hl7(path)
        elif head[128:132] == b"DICM":
            yield read_sr_file(path)
        else:
            raise ImportInputError(f"{path}: not a report export (expected .csv, .jsonl, an HL7 file "
                                   "starting with MSH, or a DICOM SR)")


def report_files(paths: list[Path]) -> list[Path]:
    """The files named, folders walked in sorted order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            out.append(path)
        else:
            raise ImportInputError(f"report source {path} does not exist")
    return out
