"""QIDO-RS study search: the study-level attributes of PS3.18 Table 10.6.3-3, as DICOM JSON.

Matching: exact for UIDs, Patient ID and Accession Number; a DA range ``YYYYMMDD-YYYYMMDD`` (either end
open) or a single date for Study Date; ModalitiesInStudy against any series of the study. Results are
the worklist's visible studies (an integration key sees the studies it sent), newest first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, exists, func
from sqlmodel import Session, col, select

from medvlm.db.models import Instance, Patient, Series, Study
from medvlm.service.auth.principal import Principal
from medvlm.service.db.tables import StudyState
from medvlm.service.errors import InvalidInputError
from medvlm.service.studies.access import visibility_conditions
from medvlm.service.studies.worklist import modalities_of, split_modalities

# Query keys accepted by keyword or by tag (PS3.18 8.3.4.1), mapped to the keyword.
MATCH_KEYS = {
    "StudyInstanceUID": "0020000D",
    "PatientID": "00100020",
    "AccessionNumber": "00080050",
    "StudyDate": "00080020",
    "ModalitiesInStudy": "00080061",
}
_BY_TAG = {tag: name for name, tag in MATCH_KEYS.items()}
_DATE = re.compile(r"^(\d{8})?(-)?(\d{8})?$")


def _element(vr: str, *values: Any) -> dict[str, Any]:
    present = [v for v in values if v not in (None, "")]
    return {"vr": vr, "Value": present} if present else {"vr": vr}


def _person(name: str) -> dict[str, Any]:
    return _element("PN", {"Alphabetic": name} if name else None)


def _date_condition(value: str) -> Any:
    found = _DATE.match(value)
    if not value or found is None or not (found.group(1) or found.group(3)):
        raise InvalidInputError(f"StudyDate must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD, got {value!r}")
    low, dash, high = found.groups()
    if not dash:
        return col(Study.study_date) == low
    conditions = []
    if low:
        conditions.append(col(Study.study_date) >= low)
    if high:
        conditions.append(col(Study.study_date) <= high)
    return and_(*conditions)


def matching(query: Mapping[str, str]) -> dict[str, str]:
    """The match keys of a query string (by keyword or tag); anything else but paging is refused."""
    keys = {}
    for key, value in query.items():
        if key in ("limit", "offset", "includefield", "fuzzymatching"):
            continue
        name = key if key in MATCH_KEYS else _BY_TAG.get(key.upper())
        if name is None:
            raise InvalidInputError(
                f"unsupported QIDO-RS query key '{key}': use one of {', '.join(MATCH_KEYS)} "
                "(by keyword or tag), limit, offset"
            )
        keys[name] = value
    return keys


def search_studies(
    session: Session, principal: Principal, keys: Mapping[str, str], *, limit: int, offset: int, base_url: str
) -> list[dict[str, Any]]:
    conditions: list[Any] = []
    if "StudyInstanceUID" in keys:
        conditions.append(col(Study.study_instance_uid).in_(keys["StudyInstanceUID"].split(",")))
    if "PatientID" in keys:
        conditions.append(col(Patient.patient_id) == keys["PatientID"])
    if "AccessionNumber" in keys:
        conditions.append(col(Study.accession_number) == keys["AccessionNumber"])
    if "StudyDate" in keys:
        conditions.append(_date_condition(keys["StudyDate"]))
    if "ModalitiesInStudy" in keys:
        wanted = [m.strip().upper() for m in keys["ModalitiesInStudy"].split(",") if m.strip()]
        conditions.append(
            exists().where(
                and_(
                    col(Series.study_instance_uid) == col(Study.study_instance_uid),
                    col(Series.modality).in_(wanted),
                )
            )
        )
    conditions += visibility_conditions(principal)
    series_count = (
        select(func.count()).where(col(Series.study_instance_uid) == col(Study.study_instance_uid))
    ).scalar_subquery()
    instance_count = (
        select(func.count())
        .select_from(Instance)
        .join(Series, col(Series.series_instance_uid) == col(Instance.series_instance_uid))
        .where(col(Series.study_instance_uid) == col(Study.study_instance_uid))
    ).scalar_subquery()
    modalities = modalities_of(col(Study.study_instance_uid))
    rows = session.exec(
        select(Study, Patient, series_count, instance_count, modalities)  # type: ignore[call-overload]
        .join(Patient, col(Patient.id) == col(Study.patient_pk))
        .outerjoin(StudyState, col(StudyState.study_instance_uid) == col(Study.study_instance_uid))
        .where(*conditions)
        .order_by(col(Study.study_date).desc(), col(Study.created_at).desc(), col(Study.study_instance_uid))
        .offset(offset)
        .limit(limit)
    ).all()
    return [
        {
            "00080020": _element("DA", study.study_date),
            "00080030": _element("TM", study.study_time),
            "00080050": _element("SH", study.accession_number),
            "00080061": _element("CS", *split_modalities(joined_modalities)),
            "00080090": _person(study.referring_physician),
            "00081030": _element("LO", study.description),
            "00081190": _element("UR", f"{base_url}/studies/{study.study_instance_uid}"),
            "00100010": _person(patient.name),
            "00100020": _element("LO", patient.patient_id),
            "00100030": _element("DA", patient.birth_date),
            "00100040": _element("CS", patient.sex),
            "0020000D": _element("UI", study.study_instance_uid),
            "00201206": _element("IS", n_series),
            "00201208": _element("IS", n_instances),
        }
        for study, patient, n_series, n_instances, joined_modalities in rows
    ]
