"""WADO-RS metadata: each stored file's header as DICOM JSON; pixel data is a ``BulkDataURI`` to the
instance's frames, and other binary values over 1 KiB are left out. ``instances_of`` finds a study's (or
series') instances in viewing order for metadata and frames. Searches are ``service.dicomweb.search``.
"""

from __future__ import annotations

from typing import Any

import pydicom
from sqlmodel import Session, col, select

from medvlm.db.models import Instance, Series
from medvlm.service.dicomweb.search import element

BULK_THRESHOLD = 1024  # bytes: larger binary values are linked, not inlined


def instances_of(
    session: Session, study_uid: str, series_uid: str | None, sop_uid: str | None = None
) -> list[tuple[Instance, Series]]:
    """The study's (or series', or one) instances with their series, in viewing order."""
    conditions: list[Any] = [col(Series.study_instance_uid) == study_uid]
    if series_uid is not None:
        conditions.append(col(Series.series_instance_uid) == series_uid)
    if sop_uid is not None:
        conditions.append(col(Instance.sop_instance_uid) == sop_uid)
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
        ).all()
    )


def _instance_url(base_url: str, study_uid: str, series_uid: str, sop_uid: str) -> str:
    return f"{base_url}/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"


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
        item["00020010"] = element("UI", instance.transfer_syntax_uid)
        out.append(item)
    return out
