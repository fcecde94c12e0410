"""The derived chest labels: two lungs the right way round, the heart between them, and refusals that
name the volume and the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medvlm.synth.ct_sources import discover
from medvlm.synth.grid import CT_SHAPE
from medvlm.synth.patient_volume import load_patient_ct
from medvlm.synth.segment import NAMES, Segmentation, SegmentationError, segment
from tests.medvlm.synth.ct_fixtures import phantom_chest, shared_ct, write_nifti


@pytest.fixture(scope="module")
def phantom_seg() -> Segmentation:
    return segment(phantom_chest(), "phantom")


def _centre_i(seg: Segmentation, name: str) -> float:
    return float(np.argwhere(seg.labels == seg.structures[name])[:, 0].mean())


def test_two_lungs_heart_between_right_lung_at_low_i(phantom_seg: Segmentation) -> None:
    seg = phantom_seg
    right = np.mean([_centre_i(seg, n) for n in NAMES if n.endswith("_right") and n.startswith("lung")])
    left = np.mean([_centre_i(seg, n) for n in NAMES if n.endswith("_left") and n.startswith("lung")])
    heart = _centre_i(seg, "heart")
    assert right < seg.midline_i < left
    assert right < heart < left
    for name in NAMES:
        if name.startswith("clavicula"):
            continue  # the phantom has no clavicles
        assert (seg.labels == seg.structures[name]).any(), name


def test_trachea_is_at_the_midline_above_the_lungs(phantom_seg: Segmentation) -> None:
    seg = phantom_seg
    tr = np.argwhere(seg.labels == seg.structures["trachea"])
    assert abs(tr[:, 0].mean() - CT_SHAPE[0] / 2) < 10


@pytest.mark.parametrize(
    ("hu", "message"),
    [
        (np.full(CT_SHAPE, -1000.0, dtype=np.float32), "no body found"),
        (np.full(CT_SHAPE, 30.0, dtype=np.float32), "trachea not found"),
    ],
)
def test_refuses_a_volume_that_is_not_a_chest(hu: np.ndarray, message: str) -> None:
    with pytest.raises(SegmentationError, match=f"blob: {message}"):
        segment(hu, "blob")


def test_refuses_one_lung_only() -> None:
    hu = phantom_chest()
    hu[CT_SHAPE[0] // 2 :][hu[CT_SHAPE[0] // 2 :] < -500] = 30.0  # fill the left lung
    hu[phantom_chest() < -990] = -1000.0  # keep the trachea
    with pytest.raises(SegmentationError, match="no left lung"):
        segment(hu, "one-lung")


def test_refuses_too_few_slices(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "thin.nii.gz", np.zeros((64, 64, 4), dtype=np.int16), np.eye(4))
    [pt] = discover([path])
    with pytest.raises(SegmentationError, match=r"thin .*too few slices"):
        load_patient_ct(pt)


@pytest.mark.slow
def test_ct64_from_the_shared_folder_segments_the_right_way_round() -> None:
    [pt] = discover([shared_ct("cip/ct-64.nii.gz")])
    ct = load_patient_ct(pt)
    lab, ids = ct.labels, ct.structures
    right = np.argwhere(lab == ids["lung_upper_lobe_right"])[:, 0].mean()
    left = np.argwhere(lab == ids["lung_upper_lobe_left"])[:, 0].mean()
    heart = np.argwhere(lab == ids["heart"])
    assert right < heart[:, 0].mean() < left
    # The heart sits in front of the middle of the chest and below the lung apices.
    lungs = np.argwhere(np.isin(lab, [ids[n] for n in NAMES if n.startswith("lung")]))
    assert heart[:, 2].mean() < lungs[:, 2].mean()
    assert ct.mu.shape == CT_SHAPE and ct.covered is not None


@pytest.mark.slow
@pytest.mark.parametrize("source", ["lung_pet_ct_dx/Lung_Dx-A0001.nii.gz", "itkelastix/4dct_phase00.nii.gz"])
def test_a_derived_heart_stays_above_the_domes_and_off_the_left_wall(source: str) -> None:
    """Derived hearts once took in the liver, stomach and spleen between the lung recesses: a box as wide
    as a cardiomegaly (CTR 0.63) that every normal film then shrank hard. Frontal CTR of the derived heart
    on these two patients (no cardiomegaly reported): under 0.58; the heart ends above the lung bases and
    its top is rounded."""
    [pt] = discover([shared_ct(source)])
    ct = load_patient_ct(pt)
    heart = ct.labels == ct.structures["heart"]
    lungs = np.isin(ct.labels, [ct.structures[n] for n in NAMES if n.startswith("lung")])
    widest_heart = max(np.ptp(np.nonzero(heart[:, :, k].any(axis=1))[0]) for k in range(heart.shape[2])
                       if heart[:, :, k].any())
    lung_cols = np.nonzero(lungs.any(axis=(1, 2)))[0]
    assert widest_heart / np.ptp(lung_cols) < 0.58
    # Its top is rounded (its top two slices under half its widest; the window it is cut from gave a flat
    # top of 0.63 and 0.84 of it, a box that each film's heart warp bent into S-shaped lungs).
    top = np.nonzero(heart.any(axis=(0, 1)))[0].max()
    assert np.ptp(np.nonzero(heart[:, :, top - 1 :].any(axis=(1, 2)))[0]) < 0.5 * widest_heart
    assert np.nonzero(heart.any(axis=(0, 1)))[0].min() > np.nonzero(lungs.any(axis=(0, 1)))[0].min() + 5
