"""Every way the writer stores a film (CR/DX, MONOCHROME1/2, 10-16 bits, window or VOI LUT, each view)
reads back through medvlm.dicom.pixels the same way up: bone bright, the same picture."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pydicom
import pytest

from medvlm.dicom.pixels import display_frame, window_linear
from medvlm.synth.acquisition import PROJECTIONS, Acquisition
from medvlm.synth.atlas import Atlas
from medvlm.synth.compose import render_film
from medvlm.synth.dicom_writer import (
    CR_IMAGE,
    DX_FOR_PRESENTATION,
    FilmFormatError,
    StudyIdentity,
    default_window,
    film_dataset,
    write_dicom,
)
from tests.medvlm.dicom.dicom_factory import dciodvfy

# A VOI LUT Sequence goes with films of at most 14 bits (its US LUT Data must stay under 64 KB).
VARIANTS = [
    (modality, photometric, bits, lut)
    for modality, photometric, bits, lut in itertools.product(
        ["CR", "DX"], ["MONOCHROME1", "MONOCHROME2"], [10, 12, 14, 15, 16], [False, True]
    )
    if bits <= 14 or not lut
]


@pytest.fixture(scope="module")
def film(atlas: Atlas) -> np.ndarray:
    acq = Acquisition.sample(np.random.default_rng(2), "PA")
    return render_film([], seed=2, size=128, atlas=atlas, acquisition=acq).pixels


def read_back(ds: pydicom.Dataset) -> pydicom.Dataset:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(buf.getvalue()))


@pytest.mark.parametrize(("modality", "photometric", "bits", "lut"), VARIANTS)
def test_every_variant_reads_back_bone_bright(film, modality, photometric, bits, lut) -> None:
    acq = Acquisition(modality=modality, photometric=photometric, bits_stored=bits, voi_lut=lut)
    who = StudyIdentity.synthetic("variant", np.random.default_rng(0))
    window = default_window(film)
    ds = read_back(film_dataset(film, 0.5, who, window, acq))
    assert ds.SOPClassUID == (CR_IMAGE if modality == "CR" else DX_FOR_PRESENTATION)
    assert (ds.Modality, ds.PhotometricInterpretation) == (modality, photometric)
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (16, bits, bits - 1)
    assert int(ds.pixel_array.max()) <= 2**bits - 1
    assert ("VOILUTSequence" in ds) == lut and ("WindowCenter" in ds) == (not lut)
    assert ("PresentationIntentType" in ds) == (modality == "DX")
    shown = display_frame(ds)
    expected = window_linear(film.astype(np.float32), *window)
    assert np.corrcoef(shown.ravel(), expected.ravel())[0, 1] > 0.97  # same way up, same picture
    if not lut:  # a linear window: the same values, up to the bit depth's rounding
        assert np.abs(shown - expected).max() < 0.02


@pytest.mark.parametrize("bits", [15, 16])
def test_a_voi_lut_too_long_for_one_element_is_refused(film, bits: int) -> None:
    acq = Acquisition(bits_stored=bits, voi_lut=True)
    who = StudyIdentity.synthetic("v", np.random.default_rng(0))
    with pytest.raises(FilmFormatError, match="use a window"):
        film_dataset(film, 0.5, who, (2048.0, 4096.0), acq)  # the full range: more entries than fit


@pytest.mark.parametrize("projection", PROJECTIONS)
def test_view_position_orientation_and_codes_follow_the_projection(film, projection: str) -> None:
    acq = Acquisition(projection=projection)
    ds = read_back(film_dataset(film, 0.5, StudyIdentity.synthetic("v", np.random.default_rng(0)),
                                default_window(film), acq))
    assert ds.ViewPosition == {"AP_SUPINE": "AP"}.get(projection, projection)
    code = ds.ViewCodeSequence[0]
    assert (code.CodeValue, code.CodeMeaning) == {
        "PA": ("272479007", "postero-anterior"),
        "AP": ("399348003", "antero-posterior"),
        "AP_SUPINE": ("399348003", "antero-posterior"),
        "LL": ("399173006", "left lateral"),
    }[projection]
    assert list(ds.PatientOrientation) == (["P", "F"] if projection == "LL" else ["L", "F"])
    assert ("PatientOrientationCodeSequence" in ds) == (projection == "AP_SUPINE")


def test_write_dicom_writes_the_film_as_taken(film, tmp_path: Path) -> None:
    acq = Acquisition(projection="AP_SUPINE", modality="CR", photometric="MONOCHROME1", bits_stored=15)
    who = StudyIdentity.synthetic("w", np.random.default_rng(0))
    ds = pydicom.dcmread(write_dicom(tmp_path / "f.dcm", film, 0.5, who, acq))
    assert (ds.Modality, ds.PhotometricInterpretation, ds.BitsStored, ds.ViewPosition) == (
        "CR", "MONOCHROME1", 15, "AP")
    assert np.array_equal(ds.pixel_array, 2**15 - 1 - np.rint(film * ((2**15 - 1) / 4095)).astype(np.uint16))


@pytest.mark.parametrize(
    "acq",
    [
        Acquisition(modality="CR", photometric="MONOCHROME1", bits_stored=10, voi_lut=True),
        Acquisition(modality="DX", photometric="MONOCHROME1", bits_stored=16, projection="AP_SUPINE"),
        Acquisition(modality="DX", bits_stored=14, projection="LL", voi_lut=True),
        Acquisition(modality="CR", projection="AP"),
    ],
    ids=["cr-m1-10-lut", "dx-m1-16-supine", "dx-14-ll-lut", "cr-ap"],
)
def test_variants_pass_dciodvfy(film, tmp_path: Path, acq: Acquisition) -> None:
    who = StudyIdentity.synthetic("d", np.random.default_rng(0))
    errors, _warnings = dciodvfy(write_dicom(tmp_path / "f.dcm", film, 0.5, who, acq))
    assert errors == []


@pytest.mark.parametrize("seed", [2, 5, 11])
def test_the_default_window_leaves_the_anatomy_unsaturated(atlas: Atlas, seed: int) -> None:
    """Real CR/DX films show 0.0 % of their image at full white; a window to the 99th percentile put
    the brightest 1-2 % of every synthetic film there (mediastinum, spine), noise speckling its edge."""
    acq = Acquisition.sample(np.random.default_rng(seed), "AP_SUPINE")
    film = render_film([], seed=seed, size=128, atlas=atlas, acquisition=acq).pixels
    who = StudyIdentity.synthetic("window", np.random.default_rng(0))
    shown = display_frame(read_back(film_dataset(film, 0.5, who, default_window(film), Acquisition())))
    assert (shown >= 0.999).mean() < 0.003  # burned-in marker and text only
    assert (shown <= 0.001).mean() < 0.2  # the shutters' black border stays black
