"""One preprocessing for every film: photometric and bit-depth copies of one film reach the model alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medvlm.imaging.normalise import QUANTILES, TARGETS, image_region, robust_normalise
from medvlm.imaging.transforms import model_input
from tests.medvlm.dicom.dicom_factory import make_image, write


def _film(rows: int = 96, columns: int = 80) -> np.ndarray:
    """A smooth chest-like pattern in 0..1: dark lungs, a bright spine and border, some blobs."""
    y, x = np.mgrid[0:rows, 0:columns] / np.array([rows, columns])[:, None, None]
    lungs = np.exp(-(((x - 0.3) / 0.12) ** 2 + ((y - 0.5) / 0.3) ** 2))
    lungs += np.exp(-(((x - 0.7) / 0.12) ** 2 + ((y - 0.5) / 0.3) ** 2))
    spine = np.exp(-(((x - 0.5) / 0.05) ** 2))
    blobs = np.exp(-(((x - 0.25) / 0.03) ** 2 + ((y - 0.4) / 0.03) ** 2))
    return np.clip(0.6 - 0.45 * lungs + 0.3 * spine + 0.2 * blobs + 0.05 * y, 0.0, 1.0)


def _copy(film: np.ndarray, bits: int, photometric: str, **attributes: object):
    top = 2**bits - 1
    stored = np.round(film * top).astype(np.uint16)
    if photometric == "MONOCHROME1":
        stored = top - stored
    return make_image(pixels=stored, photometric=photometric, BitsStored=bits, HighBit=bits - 1, **attributes)


# (name, bits, photometric, extra attributes): the same film as a site might store it
COPIES = [
    ("mono2-16bit", 16, "MONOCHROME2", {}),
    ("mono1-16bit", 16, "MONOCHROME1", {}),
    ("mono2-10bit", 10, "MONOCHROME2", {}),
    ("mono1-10bit", 10, "MONOCHROME1", {}),
    ("mono2-12bit-window", 12, "MONOCHROME2", {"WindowCenter": 2047.5, "WindowWidth": 4096}),
    ("mono1-12bit-window", 12, "MONOCHROME1", {"WindowCenter": 2047.5, "WindowWidth": 4096}),
    ("mono2-12bit-rescaled", 12, "MONOCHROME2", {"RescaleSlope": 2, "RescaleIntercept": -1000}),
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    path = write(_copy(_film(), 16, "MONOCHROME2"), tmp_path_factory.mktemp("ref") / "ref.dcm")
    return model_input(path, 64)[0].numpy()


@pytest.mark.parametrize(("name", "bits", "photometric", "attributes"), COPIES, ids=[c[0] for c in COPIES])
def test_copies_of_one_film_give_the_same_input(reference: np.ndarray, tmp_path: Path, name: str, bits: int,
                                                photometric: str, attributes: dict) -> None:
    x = model_input(write(_copy(_film(), bits, photometric, **attributes), tmp_path / f"{name}.dcm"), 64)
    values = x[0].numpy()
    assert np.abs(values - reference).max() < 0.02, name
    assert np.abs(values - reference).mean() < 0.003, name


def test_landmarks_land_on_their_targets() -> None:
    film = _film(200, 160).astype(np.float32)
    out = robust_normalise(film)
    assert np.allclose(np.percentile(out, QUANTILES), TARGETS, atol=0.01)
    assert out.min() >= 0.0 and out.max() <= 1.0
    # monotone: a brighter pixel never comes out darker
    order = np.argsort(film.ravel())
    assert np.all(np.diff(out.ravel()[order]) >= -1e-6)


def test_a_flat_border_is_not_part_of_the_region() -> None:
    film = _film(100, 80).astype(np.float32)
    framed = np.zeros((140, 80), dtype=np.float32)
    framed[20:120] = film  # black bands above and below, as a figure crop or padding leaves them
    assert image_region(framed).size == film.size
    assert np.allclose(robust_normalise(framed)[20:120], robust_normalise(film), atol=1e-5)


def test_exposure_and_gain_do_not_move_the_input() -> None:
    film = _film().astype(np.float32)
    assert np.allclose(robust_normalise(film), robust_normalise(0.2 + 0.5 * film), atol=1e-4)


@pytest.mark.parametrize(
    ("case", "image"),
    [
        ("flat", np.full((16, 16), 0.4, dtype=np.float32)),
        ("all-nan", np.full((16, 16), np.nan, dtype=np.float32)),
    ],
)
def test_degenerate_images_stay_finite_in_range(case: str, image: np.ndarray) -> None:
    out = robust_normalise(image)
    assert out.shape == image.shape and np.isfinite(out).all(), case
    assert out.min() >= 0.0 and out.max() <= 1.0, case
