"""The DX file reads back with pydicom, says what it is, and passes dciodvfy without errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import UID

from medvlm.findings import Finding, Laterality
from medvlm.synth.atlas import Atlas
from medvlm.synth.compose import render_film
from medvlm.synth.dicom_writer import StudyIdentity, film_dataset, write_dicom
from tests.medvlm.dicom.dicom_factory import dciodvfy_report


@pytest.fixture(scope="module")
def written(
    atlas: Atlas, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, np.ndarray, StudyIdentity, float]:
    film = render_film(
        [Finding("pleural_effusion", laterality=Laterality.LEFT)], seed=5, size=256, atlas=atlas
    )
    who = StudyIdentity.synthetic("test-key", np.random.default_rng(1))
    path = write_dicom(tmp_path_factory.mktemp("dx") / "film.dcm", film.pixels, film.pixel_spacing_mm, who)
    return path, film.pixels, who, film.pixel_spacing_mm


def test_reads_back_with_pydicom(written) -> None:
    path, pixels, who, spacing = written
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.1"  # DX For Presentation
    assert (ds.Modality, ds.ViewPosition, ds.PhotometricInterpretation) == ("DX", "PA", "MONOCHROME2")
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (16, 12, 11, 0)
    assert np.array_equal(ds.pixel_array, pixels)
    assert [float(v) for v in ds.PixelSpacing] == pytest.approx([spacing, spacing], abs=1e-5)
    assert [float(v) for v in ds.ImagerPixelSpacing] == pytest.approx([spacing, spacing], abs=1e-5)
    assert ds.PatientName.family_name == "SYNTHETIC" and ds.PatientID == who.patient_id
    uids = [
        ds.StudyInstanceUID,
        ds.SeriesInstanceUID,
        ds.SOPInstanceUID,
        ds.file_meta.MediaStorageSOPInstanceUID,
    ]
    assert all(UID(u).is_valid for u in uids) and len(set(uids[:3])) == 3
    assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID == who.sop_uid
    assert ds.PatientIdentityRemoved == "YES"


def test_passes_dciodvfy(written) -> None:
    report = dciodvfy_report(written[0], new=False)
    assert "DXImageForPresentation" in report  # it recognised the IOD it checked
    errors = [line for line in report.splitlines() if line.startswith("Error")]
    assert errors == []


def test_uids_are_stable_per_key_and_differ_between_keys() -> None:
    rng = np.random.default_rng(0)
    a, b = StudyIdentity.synthetic("k1", rng), StudyIdentity.synthetic("k2", rng)
    assert a.study_uid == StudyIdentity.synthetic("k1", np.random.default_rng(9)).study_uid
    assert a.study_uid != b.study_uid and a.sop_uid != b.sop_uid


@pytest.mark.parametrize("pixels", [np.zeros((8, 8), np.float32), np.zeros((2, 8, 8), np.uint16)])
def test_refuses_pixels_that_are_not_a_2d_uint16_film(pixels: np.ndarray) -> None:
    who = StudyIdentity.synthetic("k", np.random.default_rng(0))
    with pytest.raises(ValueError, match="2-D uint16"):
        film_dataset(pixels, 0.7, who, (2000, 4000))
