"""A DICOM CT series folder read as a volume in HU with a RAS+ affine; mixed folders are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medvlm.synth.ct_sources import CTSourceError
from medvlm.synth.dicom_series import read_dicom_series


def _series(folder: Path, n: int = 4, modality: str = "CT", split: bool = False) -> Path:
    folder.mkdir()
    src = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for z in range(n):
        ds = src.copy()
        ds.Modality = modality
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-100.0, -120.0, 30.0 - 5.0 * z]  # written top-down, out of order
        ds.SOPInstanceUID = f"{src.SOPInstanceUID}.{z}"
        if split and z == n - 1:
            ds.SeriesInstanceUID = src.SeriesInstanceUID + ".9"
        ds.save_as(folder / f"{z}.dcm")
    return folder


def test_reads_a_series_sorted_along_its_normal(tmp_path: Path) -> None:
    vol = read_dicom_series(_series(tmp_path / "s"))
    assert vol.data.shape == (128, 128, 4)
    assert vol.spacing[2] == pytest.approx(5.0)
    # LPS -> RAS: i runs toward patient left (x falls), j toward posterior (y falls), k upward.
    assert vol.affine[0, 0] < 0 and vol.affine[1, 1] < 0 and vol.affine[2, 2] > 0
    assert vol.affine[2, 3] == pytest.approx(15.0)  # the lowest slice first
    assert np.isfinite(vol.data).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"modality": "MR"}, "expected one CT series"), ({"split": True}, "found 2"), ({"n": 2}, "too few")],
)
def test_refuses_what_is_not_one_ct_series(tmp_path: Path, kwargs: dict, message: str) -> None:
    folder = _series(tmp_path / "s", **kwargs)
    with pytest.raises(CTSourceError, match=message) as err:
        read_dicom_series(folder)
    assert str(folder) in str(err.value)
