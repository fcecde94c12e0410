"""QIDO-RS at series and instance level, and WADO-RS metadata: what a viewer (OHIF) needs to browse a study.

Series and instance searches answer from the index (``medvlm.db.models``) with the attributes of PS3.18
Tables 10.6.3-4 and 10.6.3-5; matching is exact on UIDs (a comma-separated list matches any), Modality,
SeriesNumber, InstanceNumber and SOPClassUID. ``includefield`` is accepted (``all`` or names): the answer
holds every attribute we index either way. Metadata is each stored file's header as DICOM JSON; pixel data
is a ``BulkDataURI`` to the instance's frames, and other binary values over 1 KiB are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydicom
from sqlalchemy import func
from sqlmodel import Session, col, select

from medvlm.db.models import Instance, Series
from medvlm.service.dicomweb.qido import _element
from medvlm.service.errors import InvalidInputError

SERIES_KEYS = {"SeriesInstanceUID": "0020000E", "Modality": "00080060", "SeriesNumber": "00200011"}
INSTANCE_KEYS = {"SOPInstanceUID": "00080018", "SOPClassUID": "00080016", "InstanceNumber": "00200013"}
_IGNORED = ("limit", "offset", "includefield", "fuzzymatching")
BULK_THRESHOLD = 1024  # bytes: larger binary values are linked, not inlined


def match_keys(query: Mapping[str, str], allowed: dict[str, str]) -> dict[str, str]:
    by_tag = {tag: name for name, tag in allowed.items()}
    keys = {}
    for key, value in query.items():
        if key in _IGNORED:
            continue
        name = key if key in allowed else by_tag.get(key.upper())
        if name is None:
            raise InvalidInputError(
                f"unsupported QIDO-RS query key '{key}' here: use one of "
                f"{', '.join(allowed)} (by keyword or tag), includefield, limit, offset"
            )
        keys[name] = value
    return keys


def _number(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInputError(f"{name} must be an integer, got {value!r}") from None


def search_series(
    session: Session, study_uid: str, keys: Mapping[str, str], *, limit: int, offset: int, base_url: str
) -> list[dict[str, Any]]:
    conditions: list[Any] = [col(Series.study_instance_uid) == study_uid]
    if "SeriesInstanceUID" in keys:
        conditions.append(col(Series.series_instance_uid).in_(keys["SeriesInstanceUID"].split(",")))
    if "Modality" in keys:
        conditions.append(col(Series.modality) == keys["Modality"].upper())
    if "SeriesNumber" in keys:
        conditions.append(col(Series.series_number) == _number("SeriesNumber", keys["SeriesNumber"]))
    count = (
        select(func.count())
        .select_from(Instance)
        .where(col(Instance.series_instance_uid) == col(Series.series_instance_uid))
    ).scalar_subquery()
    rows = session.exec(
        select(Series, count)
        .where(*conditions)  # type: ignore[call-overload]
        .order_by(col(Series.series_number), col(Series.series_instance_uid))
        .offset(offset)
        .limit(limit)
    ).all()
    return [
        {
            "00080060": _element("CS", series.modality),
            "0008103E": _element("LO", series.description),
            "00081190": _element("UR", f"{base_url}/studies/{study_uid}/series/{series.series_instance_uid}"),
            "0020000D": _element("UI", study_uid),
            "0020000E": _element("UI", series.series_instance_uid),
            "00200011": _element("IS", series.series_number),
            "00201209": _element("IS", n_instances),
        }
        for series, n_instances in rows
    ]


def instances_of(
    session: Session,
    study_uid: str,
    series_uid: str | None,
    keys: Mapping[str, str] | None = None,
    *,
    limit: int = 10_000,
    offset: int = 0,
) -> list[tuple[Instance, Series]]:
    keys = keys or {}
    conditions: list[Any] = [col(Series.study_instance_uid) == study_uid]
    if series_uid is not None:
        conditions.append(col(Series.series_instance_uid) == series_uid)
    if "SOPInstanceUID" in keys:
        conditions.append(col(Instance.sop_instance_uid).in_(keys["SOPInstanceUID"].split(",")))
    if "SOPClassUID" in keys:
        conditions.append(col(Instance.sop_class_uid) == keys["SOPClassUID"])
    if "InstanceNumber" in keys:
        conditions.append(col(Instance.instance_number) == _number("InstanceNumber", keys["InstanceNumber"]))
    return list(
        session.exec(
            select(Instance, Series)
            .join(Series, col(Series.series_instance_uid) == col(Instance.series_instance_uid))
            .where(*conditions)
            .order_by(
                col(Series.series_number),
                col(Series.series_instance_uid),
                col(Instance.instance_number),
                col(Instance.sop_instance_uid),
            )
            .offset(offset)
            .limit(limit)
        ).all()
    )


def _instance_url(base_url: str, study_uid: str, series_uid: str, sop_uid: str) -> str:
    return f"{base_url}/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"


def instance_attributes(
    rows: list[tuple[Instance, Series]], study_uid: str, base_url: str
) -> list[dict[str, Any]]:
    return [
        {
            "00080016": _element("UI", instance.sop_class_uid),
            "00080018": _element("UI", instance.sop_instance_uid),
            "00080060": _element("CS", series.modality),
            "00081190": _element(
                "UR",
                _instance_url(base_url, study_uid, series.series_instance_uid, instance.sop_instance_uid),
            ),
            "0020000D": _element("UI", study_uid),
            "0020000E": _element("UI", series.series_instance_uid),
            "00200011": _element("IS", series.series_number),
            "00200013": _element("IS", instance.instance_number),
            "00280008": _element("IS", instance.frames),
            "00280010": _element("US", instance.rows),
            "00280011": _element("US", instance.columns),
        }
        for instance, series in rows
    ]


def metadata(rows: list[tuple[Instance, Series]], study_uid: str, base_url: str) -> list[dict[str, Any]]:
    """Each instance's header as DICOM JSON; pixel data and large binary values as BulkDataURI links."""
    out = []
    for instance, series in rows:
        url = _instance_url(base_url, study_uid, series.series_instance_uid, instance.sop_instance_uid)
        ds = pydicom.dcmread(instance.path, stop_before_pixels=True)

        item = ds.to_json_dict(bulk_data_threshold=BULK_THRESHOLD, bulk_data_element_handler=lambda _: "")
        item = {
            tag: value for tag, value in item.items() if value.get("BulkDataURI") != ""
        }  # no dangling links
        frames = ",".join(str(n) for n in range(1, instance.frames + 1))
        item["7FE00010"] = {
            "vr": "OB" if instance.bits_allocated <= 8 else "OW",
            "BulkDataURI": f"{url}/frames/{frames}",
        }
        item["00020010"] = _element("UI", instance.transfer_syntax_uid)
        out.append(item)
    return out
