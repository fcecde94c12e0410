"""Which instance of a study is the frontal view and which (if any) the lateral, as a radiologist reads them.

DICOM attributes decide first: ``ViewPosition`` (PA / AP frontal; LL / RL / LATERAL lateral), then the
``ViewCodeSequence`` code (SNOMED / SRT codes of CID 4010, or its meaning). Only an image whose attributes
say nothing is shown to the intended-use gate's image check (``medvlm.gate.policy.assess_image``), which
recognises laterals; an image the check calls neither is passed over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydicom.dataset import Dataset

from medvlm.errors import DicomError
from medvlm.gate.policy import FRONTAL_VIEWS, LATERAL_VIEWS

View = Literal["frontal", "lateral"]
VIEWS: tuple[View, ...] = ("frontal", "lateral")
# CID 4010 view codes (SNOMED CT, and the older SRT codes still written by many modalities)
_FRONTAL_CODES = {"399348003", "R-10214", "399182001", "R-10206"}  # postero-anterior, antero-posterior
_LATERAL_CODES = {"399173006", "R-10236", "399198007", "R-10232", "260521003", "G-A142"}  # left/right lat.
_FRONTAL_RANK = {"PA": 0, "AP": 1}


def _upper(ds: Dataset, keyword: str) -> str:
    return str(getattr(ds, keyword, "") or "").strip().upper()


def view_from_attributes(ds: Dataset) -> View | None:
    """``frontal`` / ``lateral`` from ViewPosition, then ViewCodeSequence; None when neither says."""
    position = _upper(ds, "ViewPosition")
    if position in FRONTAL_VIEWS:
        return "frontal"
    if position in LATERAL_VIEWS:
        return "lateral"
    for item in getattr(ds, "ViewCodeSequence", None) or []:
        code = str(getattr(item, "CodeValue", "") or "").strip().upper()
        meaning = str(getattr(item, "CodeMeaning", "") or "").strip().lower()
        if code in _LATERAL_CODES or "lateral" in meaning:
            return "lateral"
        if code in _FRONTAL_CODES or "posterior" in meaning or "anterior" in meaning:
            return "frontal"
    return None


def view_from_image(ds: Dataset) -> View | None:
    """The gate's image check (frontal / lateral / other) for an image whose attributes say nothing."""
    from medvlm.gate.policy import assess_image

    kind = assess_image(ds).kind
    return kind if kind in VIEWS else None  # type: ignore[return-value]


@dataclass(frozen=True)
class Instance:
    path: Path | None
    dataset: Dataset
    view: View
    how: str  # "ViewPosition" / "ViewCodeSequence" / "image check": why it is that view


@dataclass(frozen=True)
class StudyViews:
    frontal: Instance
    lateral: Instance | None


def classify(ds: Dataset, path: Path | None = None,
             fallback: Callable[[Dataset], View | None] = view_from_image) -> Instance | None:
    view = view_from_attributes(ds)
    how = "ViewPosition" if _upper(ds, "ViewPosition") else "ViewCodeSequence"
    if view is None:
        view, how = fallback(ds), "image check"
    return None if view is None else Instance(path, ds, view, how)


def _order(instance: Instance) -> tuple[Any, ...]:
    rank = _FRONTAL_RANK.get(_upper(instance.dataset, "ViewPosition"), 2)
    number = int(getattr(instance.dataset, "InstanceNumber", None) or 0)
    return rank, number, str(instance.path or "")


def pick_views(
    candidates: Sequence[tuple[Path | None, Dataset]],
    fallback: Callable[[Dataset], View | None] = view_from_image,
) -> StudyViews:
    """The frontal (PA, then AP, then any frontal; ties by instance number, path) and the first lateral.

    A study without a frontal view is a ``DicomError`` naming what its instances were."""
    instances = [classify(ds, path, fallback) for path, ds in candidates]
    known = [i for i in instances if i is not None]
    frontals = sorted((i for i in known if i.view == "frontal"), key=_order)
    laterals = sorted((i for i in known if i.view == "lateral"), key=_order)
    if not frontals:
        seen = ", ".join(i.view for i in known) or "none recognised"
        raise DicomError(
            f"expected a frontal (PA/AP) chest view among {len(candidates)} instance(s), got: {seen}"
        )
    return StudyViews(frontals[0], laterals[0] if laterals else None)
