"""Label a canonical chest CT that has no label map: the structures build_atlas needs, under the
TotalSegmentator names atlas.py uses, as one uint8 label volume.

Approximations, good enough to place findings and devices, checked by eye on projections:
- lungs: air (< -400 HU) inside the body minus the trachea, the two largest components (split at the
  midline when they touch); holes (vessels) filled slice by slice, as TotalSegmentator's lobes include them;
- five lobes: the oblique fissure as a plane falling from ~60 % of lung height at the back to the
  front of the diaphragm; on the right, the horizontal fissure at ~45 % of lung height in front of it;
- heart: soft tissue between the lungs, in front of the spine, up to ~48 % of lung height;
- trachea: a small round air column near the midline, followed down from the top until it divides;
- oesophagus, aorta, SVC, brachiocephalic veins, stomach: tubes and an ellipsoid along their usual
  course, placed from the trachea, spine and lungs (devices need their centrelines, not their walls);
- clavicles: the largest anterior bone of each side at the top; bone: > 200 HU outside the mediastinum.
Refuses (SegmentationError) a volume it cannot label: too few slices, no body, no two lungs, no trachea.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from medvlm.synth.errors import SynthError
from medvlm.synth.grid import SPACING_MM
from medvlm.synth.segment_shapes import mm

BONE_HU = 200.0
MIN_SLICES = 8  # in the source volume
MIN_LUNG_ML = 300.0
NAMES = (
    "bone_derived",
    "lung_upper_lobe_right",
    "lung_middle_lobe_right",
    "lung_lower_lobe_right",
    "lung_upper_lobe_left",
    "lung_lower_lobe_left",
    "heart",
    "trachea",
    "esophagus",
    "superior_vena_cava",
    "brachiocephalic_vein_left",
    "brachiocephalic_vein_right",
    "aorta",
    "stomach",
    "clavicula_left",
    "clavicula_right",
)
STRUCTURES = {name: idx + 1 for idx, name in enumerate(NAMES)}
VOXEL_ML = SPACING_MM[0] * SPACING_MM[1] * SPACING_MM[2] / 1000.0


class SegmentationError(SynthError):
    """A volume the chest segmentation cannot label (it names the volume and the reason)."""


@dataclass(frozen=True)
class Segmentation:
    labels: np.ndarray  # uint8 [i, j, k]
    structures: dict[str, int]
    body: np.ndarray  # bool
    lungs: np.ndarray  # bool, filled (vessels included)
    lung_air: np.ndarray  # bool, the aerated lung only
    midline_i: float
    bone: np.ndarray  # bool


def body_mask(hu: np.ndarray, name: str) -> np.ndarray:
    """The largest soft-tissue component (drops the table and blankets), holes filled per slice."""
    solid = ndimage.binary_opening(hu > -400.0, iterations=2)
    lab, n = ndimage.label(solid)
    if n == 0:
        raise SegmentationError(f"{name}: no body found (no voxel above -400 HU)")
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    body = lab == int(np.argmax(sizes))
    for k in range(body.shape[2]):
        body[:, :, k] = ndimage.binary_fill_holes(body[:, :, k])
    return body


def _trachea(air: np.ndarray, body: np.ndarray, name: str) -> np.ndarray:
    """Follow a small round air column near the body's midline from the top slice down to the carina."""
    out = np.zeros_like(air)
    area_max = 700.0 / (SPACING_MM[0] * SPACING_MM[1])  # mm^2 -> voxels
    area_min = 40.0 / (SPACING_MM[0] * SPACING_MM[1])
    prev: np.ndarray | None = None
    for k in range(air.shape[2] - 1, -1, -1):
        cols = np.nonzero(body[:, :, k].any(axis=1))[0]
        if cols.size == 0:
            continue
        mid = (cols.min() + cols.max()) / 2.0
        lab, n = ndimage.label(air[:, :, k])
        if n == 0:
            if prev is not None:
                break
            continue
        sizes = np.bincount(lab.ravel(), minlength=n + 1)
        if prev is None:
            centres = ndimage.center_of_mass(air[:, :, k], lab, range(1, n + 1))
            cand = [
                c + 1
                for c in range(n)
                if area_min < sizes[c + 1] < area_max and abs(centres[c][0] - mid) < mm(30)
            ]
            if cand:
                best = max(cand, key=lambda c: sizes[c])
                prev = lab == best
                out[:, :, k] = prev
            continue
        hits = np.unique(lab[prev & (lab > 0)])
        hits = hits[hits > 0]
        if hits.size != 1 or sizes[hits[0]] > area_max * 1.3:
            break  # divided into the main bronchi, or opened into lung: the carina
        prev = lab == hits[0]
        out[:, :, k] = prev
    if out.sum() * VOXEL_ML < 3.0:
        raise SegmentationError(f"{name}: trachea not found (no air column near the midline at the top)")
    return out


def _lungs(air: np.ndarray, trachea: np.ndarray, midline: float, name: str) -> np.ndarray:
    lungish = air & ~ndimage.binary_dilation(trachea, iterations=2)
    lab, _n = ndimage.label(lungish)
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    big = [c for c in np.argsort(sizes)[::-1][:2] if sizes[c] * VOXEL_ML > MIN_LUNG_ML]
    if not big:
        raise SegmentationError(f"{name}: lungs not found (no air region above {MIN_LUNG_ML:.0f} mL)")
    lungs = np.isin(lab, big)
    i_idx = np.arange(air.shape[0])[:, None, None]
    right, left = lungs & (i_idx < midline), lungs & (i_idx >= midline)
    for side, m in (("right", right), ("left", left)):
        if m.sum() * VOXEL_ML < MIN_LUNG_ML / 3:
            raise SegmentationError(f"{name}: not a chest: no {side} lung ({m.sum() * VOXEL_ML:.0f} mL)")
    return lungs


def _fill(mask: np.ndarray) -> np.ndarray:
    out = ndimage.binary_closing(mask, iterations=2)
    for k in range(out.shape[2]):
        out[:, :, k] = ndimage.binary_fill_holes(out[:, :, k])
    return out | mask


def _lobes(lungs: np.ndarray, midline: float) -> dict[str, np.ndarray]:
    out = {}
    i_idx = np.arange(lungs.shape[0])[:, None, None]
    for side, sel in (("right", i_idx < midline), ("left", i_idx >= midline)):
        m = lungs & sel
        idx = np.argwhere(m)
        (_, j0, k0), (_, j1, k1) = idx.min(0), idx.max(0)
        jj = np.arange(lungs.shape[1])[None, :, None]
        kk = np.arange(lungs.shape[2])[None, None, :]
        h = (kk - k0) / max(k1 - k0, 1)  # 0 at the base, 1 at the apex
        a = (jj - j0) / max(j1 - j0, 1)  # 0 at the back, 1 at the front
        lower = m & (h < 0.62 - 0.57 * a)
        if side == "right":
            middle = m & ~lower & (h < 0.45) & (a > 0.3)
            out["lung_lower_lobe_right"] = lower
            out["lung_middle_lobe_right"] = middle
            out["lung_upper_lobe_right"] = m & ~lower & ~middle
        else:
            out["lung_lower_lobe_left"] = lower
            out["lung_upper_lobe_left"] = m & ~lower
    return out


def segment(hu: np.ndarray, name: str, source_slices: int | None = None) -> Segmentation:
    """Label the canonical volume ``hu`` (HU, before contrast handling); ``name`` goes in every error."""
    from medvlm.synth import mediastinum as med

    if source_slices is not None and source_slices < MIN_SLICES:
        raise SegmentationError(
            f"{name}: {source_slices} slices, too few for a chest CT (at least {MIN_SLICES})"
        )
    body = body_mask(hu, name)
    if body.sum() * VOXEL_ML < 2000.0:
        raise SegmentationError(f"{name}: not a chest: the body is {body.sum() * VOXEL_ML:.0f} mL")
    cols = np.nonzero(body.any(axis=(1, 2)))[0]
    midline = float((cols.min() + cols.max()) / 2.0)
    air = (hu < -400.0) & body
    trachea = _trachea(air, body, name)
    midline = float(np.median(np.argwhere(trachea)[:, 0]))
    lung_air = _lungs(air, trachea, midline, name)
    lungs = _fill(lung_air) & body & ~trachea
    spine = med.spine_front(hu, body, midline)
    heart = med.heart(hu, lungs, body, spine, midline)
    if heart.sum() * VOXEL_ML < 150.0:
        raise SegmentationError(
            f"{name}: heart not found between the lungs ({heart.sum() * VOXEL_ML:.0f} mL)"
        )
    bone = med.bone(hu, body, lungs, spine)
    masks: dict[str, np.ndarray] = {"bone_derived": bone}
    masks.update(_lobes(lungs, midline))
    masks["heart"] = heart
    masks.update(med.vessels_and_gut(hu.shape, trachea, heart, lungs, spine, midline))
    masks["trachea"] = trachea
    masks.update(med.clavicles(bone, trachea, midline))
    labels = np.zeros(hu.shape, dtype=np.uint8)
    for n in NAMES:  # later names win where approximations overlap
        if n in masks:
            labels[masks[n]] = STRUCTURES[n]
    return Segmentation(labels, dict(STRUCTURES), body, lungs, lung_air, midline, bone)
