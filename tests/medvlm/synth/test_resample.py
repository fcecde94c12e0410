"""Resampling onto the canonical grid: the affine is honoured (left stays left, front stays front), what
the source does not cover is air and marked uncovered, and oblique/axis-aligned paths agree."""

from __future__ import annotations

import numpy as np
import pytest

from medvlm.synth.grid import CT_SHAPE
from medvlm.synth.nifti import NiftiVolume
from medvlm.synth.resample import _resample_oblique, canonical_affine, resample, to_canonical


def _lps_volume(left_anterior_marker: bool = True) -> NiftiVolume:
    """A 40x40x20 volume stored DICOM-style (i -> patient left, j -> posterior) at 5 mm: soft tissue with
    a bone marker in the patient's left-anterior-superior corner."""
    data = np.full((40, 40, 20), 40, dtype=np.int16)
    data[30:38, 2:10, 14:18] = 1000  # high i = left; low j = anterior (j runs posterior here)
    affine = np.diag([-5.0, -5.0, 5.0, 1.0])  # RAS+: x decreases with i (toward left), y with j
    return NiftiVolume(data=data, spacing=(5.0, 5.0, 5.0), affine=affine)


def test_orientation_is_canonical_left_high_i_anterior_high_j() -> None:
    vol = _lps_volume()
    canon = to_canonical(vol, np.ones(vol.data.shape, dtype=bool))
    idx = np.argwhere(canon.hu > 500)
    centre = idx.mean(0)
    body = np.argwhere(canon.covered).mean(0)
    assert centre[0] > body[0] and centre[1] > body[1] and centre[2] > body[2]


def test_uncovered_is_air_and_marked() -> None:
    vol = _lps_volume()  # 200 mm wide, 100 mm tall: smaller than the 360 x 332 mm grid
    canon = to_canonical(vol, np.ones(vol.data.shape, dtype=bool))
    assert canon.hu.shape == CT_SHAPE
    assert not canon.covered.all() and canon.covered.any()
    assert np.all(canon.hu[~canon.covered] == -1000.0)  # no edge value smeared outward
    assert np.all(canon.hu[canon.covered] >= 40.0 - 1e-3)


def test_axis_aligned_and_oblique_paths_agree() -> None:
    vol = _lps_volume()
    aff = canonical_affine(np.array([0.0, -50.0, 40.0]))
    a, ia = resample(vol, aff)
    m = np.linalg.inv(vol.affine) @ aff
    b, ib = _resample_oblique(np.asarray(vol.data, np.float32), m, 1, -1000.0)
    assert np.array_equal(ia, ib)
    assert np.abs(a - b).max() == pytest.approx(0.0, abs=1e-2)
