"""QIDO-RS ``includefield`` (PS3.18 8.3.4.3): more attributes in each result, by keyword, tag or ``all``.

The index holds the required return attributes; anything else is read from a stored header: the
instance's own at instance level, the first instance's for a series or a study (their shared attributes
are the same in every instance). ``all`` adds every header attribute of the result's level: at instance
level the whole header (binary values over 1 KiB left out), at series and study level the attributes of
the Patient, Study and Series modules listed below. Headers are read only when ``includefield`` is given.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import pydicom
from pydicom.datadict import dictionary_keyword, tag_for_keyword

from medvlm.service.errors import QueryError

ALL = "all"
BULK_THRESHOLD = 1024
PATIENT_STUDY = [
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientSex",
    "OtherPatientIDs",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "EthnicGroup",
    "PatientComments",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyID",
    "StudyDescription",
    "ReferringPhysicianName",
    "PhysiciansOfRecord",
    "NameOfPhysiciansReadingStudy",
    "AdmittingDiagnosesDescription",
    "InstitutionName",
    "TimezoneOffsetFromUTC",
]
SERIES = [
    "Modality",
    "SeriesInstanceUID",
    "SeriesNumber",
    "SeriesDescription",
    "SeriesDate",
    "SeriesTime",
    "BodyPartExamined",
    "Laterality",
    "ProtocolName",
    "PatientPosition",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
    "PerformedProcedureStepID",
    "PerformedProcedureStepDescription",
    "OperatorsName",
    "Manufacturer",
    "ManufacturerModelName",
    "StationName",
]
LEVEL_KEYWORDS = {"study": PATIENT_STUDY, "series": PATIENT_STUDY + SERIES}


def requested(values: Iterable[str]) -> set[str] | None:
    """Tags (8 hex digits) asked for, ``{"all"}``, or None when none; unknown names are a QueryError."""
    tags: set[str] = set()
    for value in values:
        for name in (v.strip() for v in value.split(",")):
            if not name:
                continue
            if name.lower() == ALL:
                return {ALL}
            tag = tag_for_keyword(name)
            if tag is None and len(name) == 8:
                try:
                    tag = int(name, 16)
                except ValueError:
                    tag = None
            if tag is None:
                raise QueryError(
                    f"includefield {name!r} is neither a DICOM keyword nor a tag (8 hex digits), nor 'all'"
                )
            tags.add(f"{tag:08X}")
    return tags or None


def _header(path: str) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    item = ds.to_json_dict(bulk_data_threshold=BULK_THRESHOLD, bulk_data_element_handler=lambda _: "")
    return {tag: value for tag, value in item.items() if value.get("BulkDataURI") != ""}


def _level_tags(level: str) -> set[str]:
    return {f"{tag_for_keyword(k):08X}" for k in LEVEL_KEYWORDS[level] if tag_for_keyword(k) is not None}


def add_fields(result: dict[str, Any], path: str | None, tags: set[str], level: str) -> dict[str, Any]:
    """``result`` with the asked attributes added from the header at ``path`` (what it already has kept)."""
    if path is None:
        return result
    header = _header(path)
    if ALL in tags:
        wanted = set(header) if level == "instance" else _level_tags(level) | (tags - {ALL})
    else:
        wanted = tags
    for tag in sorted(wanted - set(result)):
        if tag in header:
            result[tag] = header[tag]
        elif ALL not in tags:  # named, but the instance has none: an empty value says so
            try:
                vr = pydicom.datadict.dictionary_VR(int(tag, 16))
            except KeyError:
                continue  # a private or unknown tag the header lacks
            result[tag] = {"vr": vr.split(" ")[0]}
    return dict(sorted(result.items()))


def keyword(tag: str) -> str:
    return dictionary_keyword(int(tag, 16)) or tag
