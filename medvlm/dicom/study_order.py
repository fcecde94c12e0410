"""The order of a study's instances: series by number (then UID), instances by number (then UID).

The only definition; drafting, exports, the corrections export, DICOMweb and the CLI's study view all read
a study's images in this order, so "the first image" is the same image everywhere.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from medvlm.db.models import Instance, Series

INSTANCE_ORDER = (
    col(Series.series_number),
    col(Series.series_instance_uid),
    col(Instance.instance_number),
    col(Instance.sop_instance_uid),
)


def study_instances(study_uid: str) -> Any:
    """``SELECT (Instance, Series)`` of one study in ``INSTANCE_ORDER`` (a statement to execute)."""
    return (
        select(Instance, Series)
        .join(Series, col(Series.series_instance_uid) == col(Instance.series_instance_uid))
        .where(col(Series.study_instance_uid) == study_uid)
        .order_by(*INSTANCE_ORDER)
    )
