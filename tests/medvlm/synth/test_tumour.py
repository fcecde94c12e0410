"""Tumour removal: the dense volume inside the expert box goes, a detected lesion is removed only on its
known side, and a tumour that stays is recorded with its side (never a silent "normal" film)."""

from __future__ import annotations

import numpy as np
import pytest

from medvlm.synth import tumour
from medvlm.synth.grid import CT_SHAPE, SPACING_MM
from tests.medvlm.synth.ct_fixtures import phantom_chest

CENTRE = (150, 250, 70)  # in the right lung (low i)


@pytest.fixture(scope="module")
def chest() -> dict[str, np.ndarray]:
    hu = phantom_chest()
    lungs = (hu > -900) & (hu < -500)  # the phantom lungs are -850 HU; outside air is -1000
    ii, jj, kk = np.ogrid[: CT_SHAPE[0], : CT_SHAPE[1], : CT_SHAPE[2]]
    d2 = sum(((a - c) * s) ** 2 for a, c, s in zip((ii, jj, kk), CENTRE, SPACING_MM, strict=True))
    sphere = d2 <= 12.0**2  # a 24 mm mass
    hu[sphere] = 40.0
    lung_air = lungs & ~sphere
    box = np.zeros(CT_SHAPE, dtype=bool)
    box[CENTRE[0] - 22 : CENTRE[0] + 23, CENTRE[1] - 22 : CENTRE[1] + 23, CENTRE[2] - 6 : CENTRE[2] + 7] = (
        True
    )
    return {"hu": hu, "lungs": lungs, "lung_air": lung_air, "box": box, "sphere": sphere}


def _handle(chest: dict, pid: str = "P", box: bool = True, hu: np.ndarray | None = None):
    return tumour.handle(
        pid,
        chest["hu"] if hu is None else hu,
        chest["lungs"],
        chest["lung_air"],
        np.zeros(CT_SHAPE, dtype=bool),
        CT_SHAPE[0] / 2,
        chest["box"] if box else None,
    )


def test_expert_box_tumour_is_replaced_by_lung(chest: dict) -> None:
    out, rec = _handle(chest)
    dense = lambda h: int(((h > -300) & chest["box"]).sum())  # noqa: E731
    assert dense(chest["hu"]) > 1000
    assert dense(out) < 0.02 * dense(chest["hu"])
    assert rec.removed and rec.side == "right" and rec.source == "expert box"
    assert np.median(out[chest["sphere"]]) < -700  # parenchyma, not a hole of air
    assert np.median(out[chest["sphere"]]) > -990


def test_detected_tumour_is_removed(chest: dict) -> None:
    out, rec = _handle(chest, box=False)
    assert rec.removed and rec.side == "right" and rec.source == "detected"
    assert (out[chest["sphere"]] > -300).mean() < 0.05


def test_a_detection_on_the_wrong_side_is_left_in_place_and_recorded(
    chest: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(tumour.KNOWN_SIDES, "P", "left")
    out, rec = _handle(chest, box=False)
    assert not rec.removed and rec.side == "left" and "left in place" in rec.note
    assert np.array_equal(out, chest["hu"])


def test_no_lesion_found_is_recorded_not_ignored(chest: dict) -> None:
    clean = chest["hu"].copy()
    clean[chest["sphere"]] = -850.0
    _, rec = _handle(chest, box=False, hu=clean)
    assert not rec.removed and rec.source == "not found"


@pytest.mark.slow
def test_the_expert_box_of_a_real_ct_loses_its_dense_tumour() -> None:
    from medvlm.synth.ct_sources import discover
    from medvlm.synth.nifti import read_nifti
    from medvlm.synth.patient_volume import read_source
    from medvlm.synth.resample import mask_to_canonical, to_canonical
    from medvlm.synth.segment import segment
    from tests.medvlm.synth.ct_fixtures import shared_ct

    [pt] = discover([shared_ct("lung_pet_ct_dx/Lung_Dx-A0002.nii.gz")])
    assert pt.lung_mask is not None and pt.tumour_box is not None
    vol = read_source(pt)
    canon = to_canonical(vol, read_nifti(pt.lung_mask).data > 0)
    seg = segment(canon.hu, pt.patient_id)
    box = mask_to_canonical(read_nifti(pt.tumour_box), canon.affine)
    heart = seg.labels == seg.structures["heart"]
    out, rec = tumour.handle(pt.patient_id, canon.hu, seg.lungs, seg.lung_air, heart, seg.midline_i, box)
    before, after = ((canon.hu > -300) & box).sum(), ((out > -300) & box).sum()
    assert rec.removed and rec.source == "expert box"
    assert after < 0.5 * before


@pytest.mark.slow
def test_the_unannotated_cptac_tumour_is_found_and_removed() -> None:
    """C3N-00247's squamous cell carcinoma (no box, side not given): a spiculated ~2 cm nodule in the right
    lung beside the heart, looked at on the axial slices. Its opened core is ~1.3 mL, and the oesophagus
    (1.5 mL, 2 cm from the midline) must not win in its place."""
    from medvlm.synth.ct_sources import discover
    from medvlm.synth.nifti import read_nifti
    from medvlm.synth.patient_volume import read_source
    from medvlm.synth.resample import to_canonical
    from medvlm.synth.segment import segment
    from tests.medvlm.synth.ct_fixtures import shared_ct

    [pt] = discover([shared_ct("dlwpt_cptac/C3N-00247.nii.gz")])
    canon = to_canonical(read_source(pt), read_nifti(pt.lung_mask).data > 0)
    seg = segment(canon.hu, pt.patient_id)
    heart = seg.labels == seg.structures["heart"]
    out, rec = tumour.handle(pt.patient_id, canon.hu, seg.lungs, seg.lung_air, heart, seg.midline_i, None)
    assert rec.removed and rec.source == "detected" and rec.side == "right"
    assert 1.5 <= rec.volume_ml <= 6.0
    assert rec.centre_ijk is not None
    off_midline_mm = (seg.midline_i - rec.centre_ijk[0]) * SPACING_MM[0]
    assert off_midline_mm > 60  # in the lung, not the mediastinum
    lesion = (canon.hu > -300) & (out <= -300)
    assert lesion.sum() * tumour.VOXEL_ML > 1.0  # solid tissue became parenchyma


def test_a_refilled_region_continues_the_frontal_projection_around_it() -> None:
    """More was removed than lung can replace (an air hole in a lung of -850 HU with a soft-tissue wall
    behind it): the refill must not leave a lucent patch on the frontal film (axis 1 is front to back)."""
    hu = np.full((60, 40, 50), -850.0, dtype=np.float32)
    hu[:, 30:, :] = 40.0  # chest wall behind the lung, on every ray
    fill = np.zeros(hu.shape, dtype=bool)
    fill[20:40, 10:35, 15:35] = True  # the removed region reaches into the wall
    hu[fill] = -1000.0
    out = tumour._match_frontal_projection(hu, fill)
    proj = np.clip(out + 1000.0, 0.0, None).sum(axis=1)
    around = np.clip(hu + 1000.0, 0.0, None).sum(axis=1)[0, 0]
    foot = fill.any(axis=1)
    assert np.abs(proj[foot] / around - 1).max() < 0.01
    assert np.array_equal(out[~fill], hu[~fill])  # nothing outside the refilled voxels moves
