"""Scan a DICOM folder or zip: headers only, grouped into studies; SR documents found there are reports.

Only what pairing and the data card need is kept per study (identifiers, date, accepted views with where
each file is), so a 10,000-study scan stays small in memory; pixels are read later, one study at a time.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from medvlm.dataset.importer.intended_use import chest_view
from medvlm.dataset.importer.reports import ImportInputError, SourceReport
from medvlm.dataset.importer.sr import sr_report

ZIP_SEP = "::"  # "archive.zip::member" locates a file inside a zip


@dataclass
class Instance:
    location: str  # a path, or "archive.zip::member"
    sop_uid: str
    view: str  # PA | AP | FRONTAL (view not stated) | LATERAL


@dataclass
class Study:
    study_uid: str
    accession: str = ""
    patient_id: str = ""
    date: dt.date | None = None
    names: list[str] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why other instances of the study were left out

    def ordered(self) -> list[Instance]:
        """Frontal first (PA, then AP), laterals after: training and drafting take the first file."""
        rank = {"PA": 0, "AP": 1, "FRONTAL": 2, "LATERAL": 3}
        return sorted(self.instances, key=lambda i: (rank[i.view], i.sop_uid))


@dataclass
class Scan:
    studies: dict[str, Study] = field(default_factory=dict)
    reports: list[SourceReport] = field(default_factory=list)  # SR documents met in the folder
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (location, reason)
    files: int = 0


@functools.lru_cache(maxsize=4)
def _zip(path: str) -> zipfile.ZipFile:
    """One open handle per archive: reopening a 10,000-member zip per file rereads its directory each time."""
    return zipfile.ZipFile(path)


def list_entries(source: Path) -> list[str]:
    """The locations in one study source, in sorted order (folders walked, zip members listed)."""
    if source.is_file() and zipfile.is_zipfile(source):
        names = sorted(i.filename for i in _zip(str(source)).infolist() if not i.is_dir())
        return [f"{source}{ZIP_SEP}{name}" for name in names]
    if source.is_dir():
        return [str(p) for p in sorted(source.rglob("*")) if p.is_file() and not p.name.startswith(".")]
    if source.is_file():
        return [str(source)]
    raise ImportInputError(f"study source {source} does not exist")


def read_location(location: str, *, header_only: bool = False) -> Dataset:
    """The dataset at a path or "zip::member" (raises OSError / InvalidDicomError)."""
    if ZIP_SEP in location:
        archive, member = location.split(ZIP_SEP, 1)
        data: bytes | Path = _zip(archive).read(member)
    else:
        data = Path(location)
    return _read(data, header_only)


def _read(data: bytes | Path, header_only: bool) -> Dataset:
    fp = io.BytesIO(data) if isinstance(data, bytes) else data
    return pydicom.dcmread(fp, stop_before_pixels=header_only)


def _date(ds: Dataset) -> dt.date | None:
    value = str(ds.get("StudyDate", "") or "")
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8])) if len(value) >= 8 else None
    except ValueError:
        return None


def scan(locations: list[str], advance: Callable[[], None] = lambda: None) -> Scan:
    """Headers of every location (from ``list_entries``), grouped into studies."""
    result = Scan()
    for location in locations:
        advance()
        result.files += 1
        try:
            ds = read_location(location, header_only=True)
        except (OSError, InvalidDicomError, ValueError, KeyError) as exc:
            result.unreadable.append((location, f"not readable as DICOM ({type(exc).__name__})"))
            continue
        if str(ds.get("Modality", "")) == "SR":
            result.reports.append(sr_report(ds, location))
            continue
        uid = str(ds.get("StudyInstanceUID", "") or "")
        if not uid:
            result.unreadable.append((location, "no StudyInstanceUID"))
            continue
        study = result.studies.get(uid)
        if study is None:
            study = result.studies[uid] = Study(uid, str(ds.get("AccessionNumber", "") or ""),
                                                str(ds.get("PatientID", "") or ""), _date(ds))
        for keyword in ("PatientName", "ReferringPhysicianName"):
            name = str(ds.get(keyword, "") or "")
            if name and name not in study.names:
                study.names.append(name)
        view, reason = chest_view(ds, functools.partial(read_location, location))  # the gate's verdict
        if view is None:
            study.refused.append(reason)
        else:
            study.instances.append(Instance(location, str(ds.get("SOPInstanceUID", "")), view))
    return result
