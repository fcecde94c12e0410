"""Model input: 1 x size x size float32 in 0..1, aspect kept by padding, seeded, bone bright."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from medvlm.dicom.pixels import read_dataset
from medvlm.errors import DicomError, ModelInputError
from medvlm.imaging.transforms import apply, build_transforms, model_input
from tests.medvlm.dicom.dicom_factory import make_image, pydicom_data_file, write


@pytest.mark.parametrize(("rows", "columns", "pad_axis"), [(40, 20, 2), (20, 40, 1), (30, 30, None)])
def test_shape_range_and_aspect_by_padding(tmp_path: Path, rows: int, columns: int,
                                           pad_axis: int | None) -> None:
    pixels = np.full((rows, columns), 3000, dtype=np.uint16)
    pixels[0, 0] = 0  # min..max display: everything but one pixel is 1.0
    path = write(make_image(pixels=pixels), tmp_path / "x.dcm")
    x = model_input(path, 64)
    assert x.shape == (1, 64, 64) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    image = x[0].numpy()
    if pad_axis is None:
        assert (image > 0.5).mean() > 0.95
    else:  # the long side fills 64 pixels, the short side 32 centred, the rest is black padding
        filled = (image > 0.5).any(axis=2 - pad_axis)
        assert filled.sum() == 32 and filled[:16].sum() == 0 and filled[-16:].sum() == 0


def test_dataset_and_path_give_the_same_tensor(tmp_path: Path) -> None:
    path = write(make_image(rows=50, columns=30), tmp_path / "x.dcm")
    assert torch.equal(model_input(path, 32), model_input(read_dataset(path), 32))


def test_chest_film_keeps_bone_bright() -> None:
    x = model_input(pydicom_data_file("RG1_UNCR.dcm"), 128)[0]
    spine, lung = x[40:75, 60:68].mean(), x[40:64, 26:38].mean()
    assert spine > lung + 0.15


def test_training_transforms_are_seeded(tmp_path: Path) -> None:
    path = write(make_image(rows=64, columns=48, seed=3), tmp_path / "x.dcm")
    a = apply(build_transforms(48, seed=7, train=True), path)
    b = apply(build_transforms(48, seed=7, train=True), path)
    c = apply(build_transforms(48, seed=8, train=True), path)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a, apply(build_transforms(48, seed=7, train=False), path))
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0 and a.shape == (1, 48, 48)


def test_colour_becomes_one_grey_channel(tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    x = model_input(get_testdata_file("SC_rgb.dcm"), 32)
    assert x.shape == (1, 32, 32) and x.std() > 0.05


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ModelInputError, match="image size must be at least 8"):
        build_transforms(4, seed=0)
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not dicom at all" * 20)
    with pytest.raises(DicomError, match="not a DICOM file"):
        model_input(bad, 32)
