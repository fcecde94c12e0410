"""QIDO-RS at study, series and instance level (PS3.18 10.6), as DICOM JSON.

One statement per search: studies (with their patient) joined down to the level asked. Each result holds
the required return attributes of its level (PS3.18 Tables 10.6.3-3 study, -4 series, -5 instance) and,
for a search not scoped to a study (``/series``, ``/instances``), the study's too; a search scoped to a
study but not a series (``/studies/{uid}/instances``) adds the series attributes. Results are the
worklist's visible studies (an integration key sees the studies it sent), newest study first, then
series and instance number. ``includefield`` is honoured (``service.dicomweb.includefield``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal_column
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from medvlm.db.models import Instance, Patient, Series, Study
from medvlm.service.auth.principal import Principal
from medvlm.service.db.tables import StudyState
from medvlm.service.dicomweb import includefield
from medvlm.service.dicomweb.matching import (
    INSTANCE_KEYS,
    SERIES_KEYS,
    STUDY_KEYS,
    Key,
    conditions,
    parse_keys,
)
from medvlm.service.studies.access import visibility_conditions
from medvlm.service.studies.worklist import split_modalities


@dataclass(frozen=True)
class Scope:
    level: str  # study | series | instance
    study_uid: str | None = None
    series_uid: str | None = None

    def keys(self) -> list[Key]:
        above = [] if self.study_uid else STUDY_KEYS
        if self.level == "study":
            return STUDY_KEYS
        if self.level == "series":
            return above + SERIES_KEYS
        return above + ([] if self.series_uid else SERIES_KEYS) + INSTANCE_KEYS


def element(vr: str, *values: Any) -> dict[str, Any]:
    present = [v for v in values if v not in (None, "")]
    return {"vr": vr, "Value": present} if present else {"vr": vr}


def _person(name: str) -> dict[str, Any]:
    return element("PN", {"Alphabetic": name} if name else None)


def study_attributes(study: Study, patient: Patient, n_series: int, n_instances: int, modalities: str | None,
                     base_url: str) -> dict[str, Any]:
    return {
        "00080020": element("DA", study.study_date),
        "00080030": element("TM", study.study_time),
        "00080050": element("SH", study.accession_number),
        "00080056": element("CS", "ONLINE"),  # Instance Availability: the whole study is on disk here
        "00080061": element("CS", *split_modalities(modalities)),
        "00080090": _person(study.referring_physician),
        "00081030": element("LO", study.description),
        "00081190": element("UR", f"{base_url}/studies/{study.study_instance_uid}"),
        "00100010": _person(patient.name),
        "00100020": element("LO", patient.patient_id),
        "00100030": element("DA", patient.birth_date),
        "00100040": element("CS", patient.sex),
        "0020000D": element("UI", study.study_instance_uid),
        "00200010": element("SH", study.study_id),
        "00201206": element("IS", n_series),
        "00201208": element("IS", n_instances),
    }


def series_attributes(series: Series, n_instances: int | None, base_url: str) -> dict[str, Any]:
    url = f"{base_url}/studies/{series.study_instance_uid}/series/{series.series_instance_uid}"
    return {
        "00080060": element("CS", series.modality),
        "0008103E": element("LO", series.description),
        "00081190": element("UR", url),
        "0020000D": element("UI", series.study_instance_uid),
        "0020000E": element("UI", series.series_instance_uid),
        "00200011": element("IS", series.series_number),
        **({"00201209": element("IS", n_instances)} if n_instances is not None else {}),
    }


def instance_attributes(instance: Instance, series: Series, base_url: str) -> dict[str, Any]:
    url = (f"{base_url}/studies/{series.study_instance_uid}/series/{series.series_instance_uid}"
           f"/instances/{instance.sop_instance_uid}")
    return {
        "00080016": element("UI", instance.sop_class_uid),
        "00080018": element("UI", instance.sop_instance_uid),
        "00080056": element("CS", "ONLINE"),  # Instance Availability: every stored instance is on disk
        "00081190": element("UR", url),
        "0020000D": element("UI", series.study_instance_uid),
        "0020000E": element("UI", series.series_instance_uid),
        "00200013": element("IS", instance.instance_number),
        "00280008": element("IS", instance.frames),
        "00280010": element("US", instance.rows),
        "00280011": element("US", instance.columns),
        "00280100": element("US", instance.bits_allocated),
    }


def _study_columns() -> list[Any]:
    """Counts and modalities of the outer query's study, over aliases (the outer query may join Series)."""
    series: Any = aliased(Series)
    inner: Any = aliased(Series)
    instance: Any = aliased(Instance)
    study_uid = col(Study.study_instance_uid)
    return [
        select(func.count()).select_from(series).where(series.study_instance_uid == study_uid)
        .scalar_subquery(),
        select(func.count()).select_from(instance)
        .join(inner, inner.series_instance_uid == instance.series_instance_uid)
        .where(inner.study_instance_uid == study_uid).scalar_subquery(),
        select(func.aggregate_strings(series.modality, literal_column("'\\'")))  # type: ignore[arg-type]
        .where(series.study_instance_uid == study_uid).scalar_subquery(),
    ]


def _header_path(level: str) -> Any:
    """The stored file whose header answers ``includefield``: the instance, or its level's first one."""
    if level == "instance":
        return col(Instance.path)
    instance: Any = aliased(Instance)
    series: Any = aliased(Series)
    if level == "series":
        return (select(func.min(instance.path))
                .where(instance.series_instance_uid == col(Series.series_instance_uid)).scalar_subquery())
    return (select(func.min(instance.path))
            .join(series, series.series_instance_uid == instance.series_instance_uid)
            .where(series.study_instance_uid == col(Study.study_instance_uid)).scalar_subquery())


def search(session: Session, principal: Principal, scope: Scope, query: Mapping[str, str],
           fields: list[str], *, limit: int, offset: int, base_url: str) -> tuple[list[dict[str, Any]], dict]:
    """The results of one QIDO-RS search, and the match keys used (keyword -> value, for the audit)."""
    keys = parse_keys(query, scope.keys(), scope.level)
    tags = includefield.requested(fields)
    with_study = scope.level == "study" or scope.study_uid is None
    where = conditions(keys) + visibility_conditions(principal)
    if scope.study_uid:
        where.append(col(Study.study_instance_uid) == scope.study_uid)
    if scope.series_uid:
        where.append(col(Series.series_instance_uid) == scope.series_uid)
    columns: list[Any] = [Study, Patient, *(_study_columns() if with_study else [])]
    order: list[Any] = [col(Study.study_date).desc(), col(Study.created_at).desc(),
                        col(Study.study_instance_uid)]
    if scope.level != "study":
        columns.append(Series)
        order += [col(Series.series_number), col(Series.series_instance_uid)]
    if scope.level == "series":
        columns.append(select(func.count()).select_from(Instance)
                       .where(col(Instance.series_instance_uid) == col(Series.series_instance_uid))
                       .scalar_subquery())
    if scope.level == "instance":
        columns.append(Instance)
        order += [col(Instance.instance_number), col(Instance.sop_instance_uid)]
    columns.append(_header_path(scope.level) if tags else None)
    statement = (
        select(*columns)  # type: ignore[call-overload]
        .join(Patient, col(Patient.id) == col(Study.patient_pk))
        .outerjoin(StudyState, col(StudyState.study_instance_uid) == col(Study.study_instance_uid))
    )
    if scope.level != "study":
        statement = statement.join(Series, col(Series.study_instance_uid) == col(Study.study_instance_uid))
    if scope.level == "instance":
        on = col(Instance.series_instance_uid) == col(Series.series_instance_uid)
        statement = statement.join(Instance, on)
    rows = session.exec(statement.where(*where).order_by(*order).offset(offset).limit(limit)).all()
    results = []
    for row in rows:
        study, patient, *rest = row
        result: dict[str, Any] = {}
        if with_study:
            n_series, n_instances, modalities, *rest = rest
            result |= study_attributes(study, patient, n_series, n_instances, modalities, base_url)
        if scope.level == "series":
            series, n_in_series, *rest = rest
            result |= series_attributes(series, n_in_series, base_url)
        if scope.level == "instance":
            series, instance, *rest = rest
            result |= series_attributes(series, None, base_url)
            result |= instance_attributes(instance, series, base_url)
        result = dict(sorted(result.items()))
        if tags:
            result = includefield.add_fields(result, rest[-1], tags, scope.level)
        results.append(result)
    return results, {key.keyword: value for key, value in keys.items()}
