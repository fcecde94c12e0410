"""QIDO-RS query parameters -> SQL conditions (PS3.18 8.3.4, PS3.4 C.2.2.2).

Each level has its match keys, named by keyword or by tag; a search above a level also takes the keys of
the levels above it (``/series`` takes study keys, ``/instances`` both). Matching kinds:
- ``uid``: exact, or a comma-separated list matching any (UID list matching);
- ``text``: exact, or with ``*`` (any run) and ``?`` (one character) wildcards; ``any_case`` for PN and
  descriptions (PS3.4 C.2.2.2.4 lets PN match without regard to case; viewers' search boxes expect it);
- ``code``: exact, or a list (CS such as Modality);
- ``date``: ``YYYYMMDD``, or a range ``A-B`` with either end open;
- ``number``: an exact integer.
A key we do not match on, or a value of the wrong form, is a ``QueryError`` (400, naming the key).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func
from sqlalchemy.orm import aliased
from sqlmodel import col

from medvlm.db.models import Instance, Patient, Series, Study
from medvlm.service.errors import QueryError

PAGING = ("limit", "offset", "includefield", "fuzzymatching")
_DATE = re.compile(r"^(\d{8})?(-)?(\d{8})?$")


@dataclass(frozen=True)
class Key:
    keyword: str
    tag: str
    kind: str  # uid | text | code | date | number | modalities
    column: Any
    any_case: bool = False


STUDY_KEYS = [
    Key("StudyInstanceUID", "0020000D", "uid", col(Study.study_instance_uid)),
    Key("PatientID", "00100020", "text", col(Patient.patient_id)),
    Key("PatientName", "00100010", "text", col(Patient.name), any_case=True),
    Key("AccessionNumber", "00080050", "text", col(Study.accession_number)),
    Key("StudyDate", "00080020", "date", col(Study.study_date)),
    Key("StudyID", "00200010", "text", col(Study.study_id)),
    Key("StudyDescription", "00081030", "text", col(Study.description), any_case=True),
    Key("ReferringPhysicianName", "00080090", "text", col(Study.referring_physician), any_case=True),
    Key("ModalitiesInStudy", "00080061", "modalities", col(Series.modality)),
]
SERIES_KEYS = [
    Key("SeriesInstanceUID", "0020000E", "uid", col(Series.series_instance_uid)),
    Key("Modality", "00080060", "code", col(Series.modality)),
    Key("SeriesNumber", "00200011", "number", col(Series.series_number)),
    Key("SeriesDescription", "0008103E", "text", col(Series.description), any_case=True),
]
INSTANCE_KEYS = [
    Key("SOPInstanceUID", "00080018", "uid", col(Instance.sop_instance_uid)),
    Key("SOPClassUID", "00080016", "uid", col(Instance.sop_class_uid)),
    Key("InstanceNumber", "00200013", "number", col(Instance.instance_number)),
]


def parse_keys(query: Mapping[str, str], keys: list[Key], level: str) -> dict[Key, str]:
    """The match keys of a query string (by keyword or tag); anything else but paging is a QueryError."""
    by_name = {k.keyword: k for k in keys} | {k.tag: k for k in keys}
    found = {}
    for name, value in query.items():
        if name in PAGING:
            continue
        key = by_name.get(name) or by_name.get(name.upper())
        if key is None:
            raise QueryError(
                f"QIDO-RS {level} search cannot match on '{name}': use one of "
                f"{', '.join(k.keyword for k in keys)} (by keyword or tag), includefield, limit, offset"
            )
        found[key] = value
    return found


def _date(key: Key, value: str) -> Any:
    found = _DATE.match(value)
    if not value or found is None or not (found.group(1) or found.group(3)):
        raise QueryError(f"{key.keyword} must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD, got {value!r}")
    low, dash, high = found.groups()
    for day in (low, high):
        if day:
            try:
                datetime.strptime(day, "%Y%m%d")
            except ValueError:
                raise QueryError(f"{key.keyword}: {day!r} is not a calendar date (YYYYMMDD)") from None
    if low and high and low > high:
        raise QueryError(f"{key.keyword}: the range {value!r} ends before it starts")
    if not dash:
        return key.column == low
    return and_(*([key.column >= low] if low else []), *([key.column <= high] if high else []))


def _text(key: Key, value: str) -> Any:
    """Exact, or a SQL LIKE when the value has DICOM wildcards (``*`` any run, ``?`` one character)."""
    column = func.lower(key.column) if key.any_case else key.column
    value = value.lower() if key.any_case else value
    if "*" not in value and "?" not in value:
        return column == value
    pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(pattern.replace("*", "%").replace("?", "_"), escape="\\")


def _number(key: Key, value: str) -> Any:
    try:
        return key.column == int(value)
    except ValueError:
        raise QueryError(f"{key.keyword} must be an integer, got {value!r}") from None


def condition(key: Key, value: str) -> Any:
    """The SQL condition for one key (ModalitiesInStudy is an EXISTS over the study's series)."""
    listed = [v.strip() for v in value.split(",") if v.strip()]
    if key.kind in ("uid", "code", "modalities") and not listed:
        raise QueryError(f"{key.keyword} needs a value (or a comma-separated list), got {value!r}")
    if key.kind == "uid":
        return key.column.in_(listed)
    if key.kind == "code":
        return key.column.in_([v.upper() for v in listed])
    if key.kind == "modalities":  # an alias: the outer query may join Series itself
        other: Any = aliased(Series)
        return exists().where(
            and_(
                other.study_instance_uid == col(Study.study_instance_uid),
                other.modality.in_([v.upper() for v in listed]),
            )
        )
    if key.kind == "date":
        return _date(key, value)
    if key.kind == "number":
        return _number(key, value)
    return _text(key, value)


def conditions(keys: Mapping[Key, str]) -> list[Any]:
    return [condition(key, value) for key, value in keys.items()]


def described(keys: Mapping[Key, str]) -> dict[str, str]:
    """The keys as keyword -> value, for the audit trail."""
    return {key.keyword: value for key, value in keys.items()}
