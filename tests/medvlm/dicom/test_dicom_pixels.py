"""Pixels: bundled transfer syntaxes, Modality LUT, VOI LUT / windows, MONOCHROME1, multi-frame, limits."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from medvlm.dicom.pixels import decode_all, display_frame, modality_frame, read_dataset, window_linear
from medvlm.dicom.png import render_png
from medvlm.errors import DicomError, LimitExceededError
from medvlm.settings import Settings
from tests.medvlm.dicom.dicom_factory import make_image, pydicom_data_file, to_bytes

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _file(name: str) -> Path:
    found = get_testdata_file(name, download=False)
    return Path(found) if found else pydicom_data_file(name)


def _decode(name: str) -> np.ndarray:
    return decode_all(read_dataset(_file(name))).astype(np.int64)


# (reference, same image in another transfer syntax, largest mean absolute difference allowed)
TRANSFER_SYNTAXES = [
    ("MR_small.dcm", "MR_small_implicit.dcm", 0.0),  # implicit VR little endian
    ("MR_small.dcm", "MR_small_bigendian.dcm", 0.0),  # explicit VR big endian
    ("MR_small.dcm", "MR_small_RLE.dcm", 0.0),  # RLE lossless
    ("MR_small.dcm", "MR_small_jp2klossless.dcm", 0.0),  # JPEG 2000 lossless
    ("MR_small.dcm", "MR_small_jpeg_ls_lossless.dcm", 0.0),  # JPEG-LS lossless
    ("emri_small.dcm", "emri_small_RLE.dcm", 0.0),  # multi-frame RLE
    ("emri_small.dcm", "emri_small_big_endian.dcm", 0.0),
    ("emri_small.dcm", "emri_small_jpeg_2k_lossless.dcm", 0.0),
    ("emri_small.dcm", "emri_small_jpeg_ls_lossless.dcm", 0.0),
    ("SC_rgb.dcm", "SC_rgb_jpeg_gdcm.dcm", 0.0),  # JPEG lossless (process 14)
    ("SC_rgb.dcm", "SC_rgb_gdcm_KY.dcm", 0.0),  # JPEG 2000
    ("SC_rgb.dcm", "SC_rgb_jpeg_dcmtk.dcm", 3.0),  # JPEG baseline (lossy)
    # The chest film. pydicom-data's UNCI is the *decompressed lossy* (J2KI) image, bit-identical to J2KI;
    # UNCR is the original, bit-identical to the lossless J2KR. UNCI vs J2KR differ by the 10:1 lossy error.
    ("RG1_UNCR.dcm", "RG1_J2KR.dcm", 0.0),  # JPEG 2000 lossless
    ("RG1_UNCI.dcm", "RG1_J2KI.dcm", 0.0),  # JPEG 2000 lossy, against its own decompressed copy
    ("RG1_UNCI.dcm", "RG1_J2KR.dcm", 60.0),  # same film; 60 of a 0..32767 range (< 0.2 %)
]


@pytest.mark.parametrize(("reference", "variant", "tolerance"), TRANSFER_SYNTAXES,
                         ids=[v for _r, v, _t in TRANSFER_SYNTAXES])
def test_transfer_syntaxes_decode_to_the_same_pixels(reference: str, variant: str, tolerance: float) -> None:
    expected, got = _decode(reference), _decode(variant)
    assert got.shape == expected.shape
    if tolerance == 0.0:
        assert np.array_equal(got, expected)
    else:
        assert np.abs(got - expected).mean() <= tolerance


def test_deflated_and_jpeg_extended_decode() -> None:
    deflated = read_dataset(_file("image_dfl.dcm"))
    assert deflated.file_meta.TransferSyntaxUID.name == "Deflated Explicit VR Little Endian"
    assert decode_all(deflated).shape == (512, 512) and decode_all(deflated).std() > 0
    near_lossless = read_dataset(_file("JPEGLSNearLossless_16.dcm"))
    assert decode_all(near_lossless).shape == (50, 10)
    extended = read_dataset(_file("JPGExtended.dcm"))
    assert decode_all(extended).shape == (1024, 256)


def test_chest_film_displays_identically_from_both_encodings() -> None:
    unc, j2k = read_dataset(_file("RG1_UNCR.dcm")), read_dataset(_file("RG1_J2KR.dcm"))
    assert np.array_equal(display_frame(unc), display_frame(j2k))
    lossy = display_frame(read_dataset(_file("RG1_UNCI.dcm")))
    assert np.abs(lossy - display_frame(j2k)).mean() < 0.005


def test_monochrome1_chest_film_has_bone_bright() -> None:
    ds = read_dataset(_file("RG1_UNCI.dcm"))
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    image = display_frame(ds)
    h, w = image.shape
    spine = image[int(0.3 * h):int(0.6 * h), int(0.47 * w):int(0.53 * w)].mean()
    lungs = np.mean([image[int(0.3 * h):int(0.5 * h), int(0.2 * w):int(0.3 * w)].mean(),
                     image[int(0.3 * h):int(0.5 * h), int(0.7 * w):int(0.8 * w)].mean()])
    assert spine > lungs + 0.15, (spine, lungs)
    # The stored values run the other way: the inversion is what makes bone bright.
    raw = decode_all(ds).astype(float)
    assert raw[int(0.3 * h):int(0.6 * h), int(0.47 * w):int(0.53 * w)].mean() < \
        raw[int(0.3 * h):int(0.5 * h), int(0.2 * w):int(0.3 * w)].mean()


def test_modality_lut_rescale_slope_intercept() -> None:
    ds = read_dataset(_file("CT_small.dcm"))
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.allclose(modality_frame(ds), expected)
    assert float(ds.RescaleIntercept) != 0.0


def test_modality_lut_sequence() -> None:
    ds = read_dataset(_file("mlut_18.dcm"))
    assert "ModalityLUTSequence" in ds
    assert np.array_equal(modality_frame(ds), apply_modality_lut(ds.pixel_array, ds).astype(np.float32))


def test_voi_lut_sequence() -> None:
    ds = read_dataset(_file("vlut_04.dcm"))
    assert "VOILUTSequence" in ds
    expected = apply_voi_lut(ds.pixel_array, ds).astype(np.float64)
    lut = np.asarray(ds.VOILUTSequence[0].LUTData, dtype=np.float64)
    expected = (expected - lut.min()) / (lut.max() - lut.min())
    assert np.allclose(display_frame(ds), expected, atol=1e-6)


def test_multi_valued_window_uses_the_first() -> None:
    pixels = np.arange(0, 4000, 4000 / (32 * 24)).astype(np.uint16).reshape(32, 24)
    ds = make_image(pixels=pixels, WindowCenter=[1000, 3000], WindowWidth=[500, 100], RescaleSlope=1,
                    RescaleIntercept=0)
    assert np.array_equal(display_frame(ds), window_linear(pixels.astype(np.float32), 1000, 500))
    assert np.array_equal(display_frame(ds, window=(3000, 100)),
                          window_linear(pixels.astype(np.float32), 3000, 100))


@pytest.mark.parametrize(("function", "value", "expected"), [
    ("LINEAR", 0.0, 0.0), ("LINEAR", 99.5, 0.5), ("LINEAR", 125.0, 1.0), ("LINEAR", 1000.0, 1.0),
    ("LINEAR_EXACT", 100.0, 0.5), ("LINEAR_EXACT", 75.0, 0.0), ("LINEAR_EXACT", 87.5, 0.25),
    ("SIGMOID", 100.0, 0.5), ("SIGMOID", 125.0, 1 / (1 + np.exp(-2.0))),
])
def test_window_functions(function: str, value: float, expected: float) -> None:
    got = window_linear(np.array([value], dtype=np.float32), 100.0, 50.0, function)[0]
    assert got == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("width", [0.0, -5.0, 0.5])
def test_bad_window_width_is_refused(width: float) -> None:
    with pytest.raises(DicomError, match="window width must be positive"):
        window_linear(np.zeros(3, dtype=np.float32), 0.0, width)


def test_monochrome1_inverts_a_synthetic_ramp() -> None:
    pixels = np.tile(np.arange(24, dtype=np.uint16) * 100, (32, 1))
    mono2 = display_frame(make_image(pixels=pixels))
    mono1 = display_frame(make_image(pixels=pixels, photometric="MONOCHROME1"))
    assert np.allclose(mono1, 1.0 - mono2)
    assert mono2[0, 0] == 0.0 and mono2[0, -1] == 1.0


def test_multi_frame_frames_and_range() -> None:
    ds = read_dataset(_file("emri_small.dcm"))
    every = ds.pixel_array
    fresh = read_dataset(_file("emri_small_RLE.dcm"))  # no cached array: decodes the one frame asked for
    for frame in (0, 4, 9):
        assert np.array_equal(modality_frame(fresh, frame), every[frame].astype(np.float32))
    with pytest.raises(DicomError, match=r"frame 10 does not exist: the instance has 10 frame\(s\)"):
        modality_frame(fresh, 10)


def test_colour_images_display_as_rgb() -> None:
    ds = read_dataset(_file("OBXXXX1A.dcm"))  # PALETTE COLOR
    image = display_frame(ds)
    assert image.shape == (600, 800, 3) and image.min() >= 0.0 and image.max() <= 1.0 and image.std() > 0.01


def test_read_dataset_limits(tmp_path: Path, sqlite_settings: Settings) -> None:
    big = tmp_path / "big.dcm"
    big.write_bytes(to_bytes(make_image(rows=64, columns=64)))
    with pytest.raises(LimitExceededError, match="over the limit of 100"):
        read_dataset(big, sqlite_settings.model_copy(update={"max_file_bytes": 100}))
    with pytest.raises(LimitExceededError, match=r"64x64 .* 4096 pixels, over the limit of 1000"):
        read_dataset(big, sqlite_settings.model_copy(update={"max_pixels": 1000}))
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"hello world" * 50)
    with pytest.raises(DicomError, match="not a DICOM file"):
        read_dataset(junk, sqlite_settings)


def test_render_png_keeps_aspect_and_mode() -> None:
    ds = read_dataset(_file("RG1_UNCI.dcm"))
    image = Image.open(io.BytesIO(render_png(ds, max_size=256)))
    assert image.format == "PNG" and image.mode == "L"
    assert max(image.size) == 256 and image.size == (241, 256)  # 1841 x 1955 scaled
    colour = Image.open(io.BytesIO(render_png(read_dataset(_file("SC_rgb.dcm")))))
    assert colour.mode == "RGB" and colour.size == (100, 100)
    with pytest.raises(DicomError, match="max_size must be a positive"):
        render_png(ds, max_size=0)


def test_missing_transfer_syntax_is_taken_from_the_encoding() -> None:
    ds = make_image()
    raw = to_bytes(ds)
    parsed = pydicom.dcmread(io.BytesIO(raw))
    del parsed.file_meta.TransferSyntaxUID
    buffer = io.BytesIO()
    parsed.save_as(buffer, enforce_file_format=False, implicit_vr=False, little_endian=True)
    from medvlm.dicom.parse import parse_dataset

    again = parse_dataset(buffer.getvalue())
    assert again.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert np.array_equal(decode_all(again), ds.pixel_array)
