"""Which instance is the frontal and which the lateral view: DICOM attributes first, the image check last."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from medvlm.errors import DicomError
from medvlm.inference.views import pick_views, view_from_attributes


def _ds(view: str | None = None, code: tuple[str, str] | None = None, number: int | None = None) -> Dataset:
    ds = Dataset()
    if view is not None:
        ds.ViewPosition = view
    if code is not None:
        item = Dataset()
        item.CodeValue, item.CodeMeaning = code
        ds.ViewCodeSequence = [item]
    if number is not None:
        ds.InstanceNumber = number
    return ds


ATTRIBUTES = [
    ("pa", _ds("PA"), "frontal"),
    ("ap", _ds("AP"), "frontal"),
    ("ll", _ds("LL"), "lateral"),
    ("rl", _ds("RL"), "lateral"),
    ("lateral-word", _ds("LATERAL"), "lateral"),
    ("snomed-pa", _ds(code=("399348003", "postero-anterior")), "frontal"),
    ("srt-left-lateral", _ds(code=("R-10236", "left lateral")), "lateral"),
    ("meaning-only-lateral", _ds(code=("X-1", "Lateral")), "lateral"),
    ("view-position-beats-code", _ds("PA", ("R-10236", "left lateral")), "frontal"),
    ("empty-position-then-code", _ds("", ("399198007", "right lateral")), "lateral"),
    ("nothing", _ds(), None),
    ("other-position", _ds("OBLIQUE"), None),
]


@pytest.mark.parametrize(("ds", "expected"), [pytest.param(d, e, id=i) for i, d, e in ATTRIBUTES])
def test_view_from_attributes(ds: Dataset, expected: str | None) -> None:
    assert view_from_attributes(ds) == expected


def _never(ds: Dataset) -> str | None:
    raise AssertionError("the image check ran although the attributes said the view")


PICKS = [
    # (instances as (name, dataset), image-check answer for attribute-less ones, frontal, lateral)
    ("pa-and-ll", [("a", _ds("PA")), ("b", _ds("LL"))], _never, "a", "b"),
    ("lateral-first", [("a", _ds("LL")), ("b", _ds("PA"))], _never, "b", "a"),
    ("pa-before-ap", [("a", _ds("AP")), ("b", _ds("PA")), ("c", _ds("RL"))], _never, "b", "c"),
    ("frontal-only", [("a", _ds("PA"))], _never, "a", None),
    ("lowest-instance-lateral", [("a", _ds("PA")), ("b", _ds("LL", number=3)), ("c", _ds("LL", number=2))],
     _never, "a", "c"),
    ("missing-attributes-image-check", [("a", _ds(number=2)), ("b", _ds(number=1))],
     lambda ds: "frontal" if ds.InstanceNumber == 1 else "lateral", "b", "a"),
    ("lateral-by-image-check", [("a", _ds("PA")), ("b", _ds())], lambda ds: "lateral", "a", "b"),
    ("other-by-image-check", [("a", _ds("PA")), ("b", _ds())], lambda ds: None, "a", None),
    ("frontal-by-code", [("a", _ds(code=("R-10206", "antero-posterior"))), ("b", _ds("LL"))],
     _never, "a", "b"),
]


@pytest.mark.parametrize(
    ("instances", "check", "frontal", "lateral"),
    [pytest.param(i, c, f, lat, id=n) for n, i, c, f, lat in PICKS],
)
def test_pick_views(instances, check, frontal: str, lateral: str | None) -> None:
    picked = pick_views([(Path(name), ds) for name, ds in instances], check)
    assert picked.frontal.path == Path(frontal)
    assert (picked.lateral.path if picked.lateral else None) == (Path(lateral) if lateral else None)


@pytest.mark.parametrize(
    ("instances", "check"),
    [
        pytest.param([("a", _ds("LL"))], _never, id="lateral-only"),
        pytest.param([("a", _ds()), ("b", _ds())], lambda ds: "lateral", id="image-check-laterals-only"),
        pytest.param([], _never, id="no-instances"),
    ],
)
def test_a_study_without_a_frontal_is_refused(instances, check) -> None:
    with pytest.raises(DicomError, match=r"expected a frontal \(PA/AP\) chest view"):
        pick_views([(Path(name), ds) for name, ds in instances], check)


def test_the_image_check_is_the_gate_s(tmp_path: Path) -> None:
    """Without attributes the gate's image check decides (here: a non-chest picture is neither view)."""
    import numpy as np

    from medvlm.inference.views import view_from_image

    ds = Dataset()
    ds.Modality = "MR"  # the gate refuses it on attributes, before any pixels: no view
    ds.PixelData = np.zeros((4, 4), np.uint16).tobytes()
    assert view_from_image(ds) is None
