"""Every shared CT patient has a lung tumour: find it, replace it with lung parenchyma, and say so.

- with an expert box (Lung-PET-CT-Dx): the solid voxels (> -500 HU) of the lung inside the box;
- without (POPI, CPTAC): the largest compact solid component inside the lung envelope (on the known side
  when the README gives one), vessels removed by an opening about 8 mm across (vessels are thinner; a
  tumour is not), contrast-enhanced components (hilar arteries), components centred within 3 cm of the
  midline (oesophagus, azygos: the lung's closing takes them in) and lesions whose opened core is under
  1 mL ignored (the opening leaves a spiculated 2 cm tumour a core of ~1.3 mL: C3N-00247).
The tumour and a 2-voxel rim are refilled with HU drawn from the aerated lung around it, smoothed a
little, then adjusted ray by ray so that the frontal projection continues the chest's around it: parenchyma,
not a hole or a lucent patch. What was removed goes in the atlas metadata.
A tumour that cannot be found or removed stays in the film and its record says removed=False with its
side, so the film is labelled a mass on that side: never a "normal" film with a tumour in it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from medvlm.synth.grid import SPACING_MM
from medvlm.synth.segment_shapes import box

SOLID_HU = -300.0
BOX_SOLID_HU = -500.0
MIN_TUMOUR_ML = 1.0  # of the opened core
MEDIASTINUM_MM = 30.0
ENHANCED_HU = 100.0
BONE_HU = 200.0
BOX_MARGIN_MM = 20.0
VOXEL_ML = SPACING_MM[0] * SPACING_MM[1] * SPACING_MM[2] / 1000.0
# What the data's README says about patients without an expert box.
KNOWN_SIDES: dict[str, str] = {"popi-4dct-00": "right"}


@dataclass(frozen=True)
class TumourRecord:
    side: str | None  # "right" | "left" | None when unknown
    removed: bool
    source: str  # "expert box" | "detected" | "not found"
    volume_ml: float
    centre_ijk: tuple[float, float, float] | None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _hull_2d(mask: np.ndarray) -> np.ndarray:
    """The convex hull of a 2-D mask (evaluated over its bounding box)."""
    from scipy.spatial import Delaunay, QhullError

    pts = np.argwhere(mask)
    out = np.zeros_like(mask)
    if len(pts) < 4:
        return mask.copy()
    lo, hi = pts.min(0), pts.max(0) + 1
    grid = np.stack(np.meshgrid(np.arange(lo[0], hi[0]), np.arange(lo[1], hi[1]), indexing="ij"), -1)
    try:
        inside = Delaunay(pts).find_simplex(grid.reshape(-1, 2)) >= 0
    except QhullError:  # collinear points
        return mask.copy()
    out[lo[0] : hi[0], lo[1] : hi[1]] = inside.reshape(grid.shape[:2])
    return out


def cavity(lungs: np.ndarray, midline: float, ks: range | None = None) -> np.ndarray:
    """Each lung's convex hull, slice by slice: the pleural cavity with what the lung wraps around,
    so a tumour against the chest wall, spine or hilum (which the air threshold leaves out) is inside."""
    out = np.zeros_like(lungs)
    split = round(midline)
    for k in ks if ks is not None else range(lungs.shape[2]):
        for sel in (slice(0, split), slice(split, lungs.shape[0])):
            sl = lungs[sel, :, k]
            if sl.any():
                out[sel, :, k] |= _hull_2d(sl)
    return out


def _envelope(lungs: np.ndarray) -> np.ndarray:
    """The lungs closed slice by slice (~7 mm): detection looks only inside the lung itself (a convex
    hull would take in the liver dome and the paravertebral aorta, which are solid too)."""
    out = np.zeros_like(lungs)
    for k in range(lungs.shape[2]):
        if lungs[:, :, k].any():
            out[:, :, k] = ndimage.binary_fill_holes(ndimage.binary_closing(lungs[:, :, k], iterations=10))
    return out


def in_box(
    hu: np.ndarray, lungs: np.ndarray, box_mask: np.ndarray, midline: float, heart: np.ndarray
) -> np.ndarray:
    """The solid soft tissue (not bone, not heart) of the pleural cavity inside the expert box, and what
    of it runs on beyond the box inside the lung itself (the boxes cover a few annotated slices; the
    tumour is often taller). Beyond the box only the lung envelope is used, never the hull, which takes
    in the mediastinum at the hilum."""
    ks = np.nonzero(box_mask.any(axis=(0, 1)))[0]
    margin_k = round(BOX_MARGIN_MM / SPACING_MM[2])
    k0, k1 = max(int(ks.min()) - margin_k, 0), min(int(ks.max()) + margin_k, hu.shape[2] - 1)
    not_heart = ~ndimage.binary_dilation(heart, iterations=3)
    solid = (hu > BOX_SOLID_HU) & (hu < BONE_HU) & not_heart
    seed = box_mask & solid & cavity(lungs, midline, range(int(ks.min()), int(ks.max()) + 1))
    if not seed.any():
        return seed
    near = np.zeros_like(box_mask)
    near[:, :, k0 : k1 + 1] = box_mask.any(axis=2)[:, :, None]  # the box's footprint, taller
    grow = (seed | (near & solid & _envelope(lungs))) & ~(box_mask & ~seed)
    lab, _ = ndimage.label(grow)
    return np.isin(lab, np.unique(lab[seed & (lab > 0)])) | seed


def detect(
    hu: np.ndarray, lungs: np.ndarray, heart: np.ndarray, midline: float, side: str | None = None
) -> np.ndarray:
    """The largest compact solid lesion in the lungs (on ``side`` when the side is known), or nothing.

    Components brighter than ENHANCED_HU are contrast-filled vessels (the hilar arteries survive the
    opening), not tumour; lesions under MIN_TUMOUR_ML are too small to call the patient's tumour."""
    env = _envelope(lungs) & ~ndimage.binary_dilation(heart, iterations=3)
    out = np.zeros_like(lungs)
    if not env.any():
        return out
    region = box(env, pad=0)
    solid = (hu[region] > SOLID_HU) & env[region]
    r = 4.0 / SPACING_MM[0]
    ax = np.arange(-int(r), int(r) + 1)
    ball = np.broadcast_to((ax[:, None, None] ** 2 + ax[None, :, None] ** 2 <= r * r), (ax.size, ax.size, 3))
    core = ndimage.binary_opening(solid, structure=ball)
    lab, n = ndimage.label(core)
    if n == 0:
        return out
    ids = np.arange(1, n + 1)
    sizes = ndimage.sum_labels(core, lab, ids) * VOXEL_ML
    med = ndimage.median(hu[region], lab, ids)
    ctr_i = np.array(ndimage.center_of_mass(core, lab, ids))[:, 0] + region[0].start
    ok = (sizes >= MIN_TUMOUR_ML) & (np.asarray(med) < ENHANCED_HU)
    ok &= np.abs(ctr_i - midline) * SPACING_MM[0] > MEDIASTINUM_MM
    if side is not None:
        ok &= (ctr_i < midline) == (side == "right")
    if not ok.any():
        return out
    best = int(ids[ok][np.argmax(sizes[ok])])
    # Grow the core back to the solid voxels it was opened from (its full extent, spiculae included).
    out[region] = ndimage.binary_dilation(lab == best, iterations=3) & solid
    return out


def refill(hu: np.ndarray, tumour: np.ndarray, lungs: np.ndarray, seed: int = 0) -> np.ndarray:
    """hu with the tumour (and a thin rim) replaced by parenchyma sampled from the lung around it."""
    rng = np.random.default_rng(seed)
    region = box(tumour, pad=26)
    sub_hu = hu[region]
    fill = ndimage.binary_dilation(tumour[region], iterations=2)
    # Sample the lung around it, vessels included (air alone would leave a darker patch on the film).
    shell = ndimage.binary_dilation(fill, iterations=20) & ~fill & lungs[region] & (sub_hu < -300)
    pool = sub_hu[shell]
    if pool.size < 100:
        pool = hu[lungs & (hu < -300)]
    new = sub_hu.copy()
    new[fill] = rng.choice(pool, size=int(fill.sum()))
    smooth = ndimage.gaussian_filter(new, sigma=(1.0, 1.0, 0.5))
    new[fill] = smooth[fill]
    new = _match_frontal_projection(new, fill)
    out = hu.copy()
    out[region] = new
    return out


def _harmonic_fill(values: np.ndarray, hole: np.ndarray, iterations: int = 2000) -> np.ndarray:
    """``values`` inside ``hole`` replaced by the smooth (Laplace) interpolation of the values around it."""
    out = np.where(hole, values[~hole].mean(), values).astype(np.float64)
    for _ in range(iterations):  # Jacobi steps; the hole is a few dozen pixels across
        avg = 0.25 * (np.roll(out, 1, 0) + np.roll(out, -1, 0) + np.roll(out, 1, 1) + np.roll(out, -1, 1))
        out[hole] = avg[hole]
    return out


def _match_frontal_projection(hu: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Refilled parenchyma adjusted, ray by ray (front to back, axis 1), so that the frontal projection of
    the refilled region continues the projection of the chest around it.

    The expert box's solid voxels are more than the tumour (hilar vessels, paravertebral soft tissue in the
    convex hull), so lung sampled in their place left a dark, stepped patch on every film of the patient
    (Lung_Dx-A0001: a lucent square in the left upper zone, which reads as a bulla or a pneumothorax).
    Each ray's missing (or extra) attenuation is spread over the refilled voxels on it."""
    foot = fill.any(axis=1)
    if not foot.any() or foot.all():
        return hu
    proj = np.clip(hu + 1000.0, 0.0, None).sum(axis=1)  # HU + 1000 is linear in attenuation
    target = _harmonic_fill(proj, foot)
    per_voxel = np.where(foot, target - proj, 0.0) / np.maximum(fill.sum(axis=1), 1)
    out = hu + fill * per_voxel[:, None, :].astype(hu.dtype)
    return np.where(fill, np.clip(out, -1000.0, None), hu)


def side_of(mask: np.ndarray, midline: float) -> str:
    return "right" if np.argwhere(mask)[:, 0].mean() < midline else "left"


def handle(
    patient_id: str,
    hu: np.ndarray,
    lungs: np.ndarray,
    lung_air: np.ndarray,
    heart: np.ndarray,
    midline: float,
    box: np.ndarray | None,
) -> tuple[np.ndarray, TumourRecord]:
    if box is not None and box.any():
        mask, source = in_box(hu, lungs, box, midline, heart), "expert box"
    else:
        mask, source = detect(hu, lungs, heart, midline, KNOWN_SIDES.get(patient_id)), "detected"
    known = KNOWN_SIDES.get(patient_id)
    if not mask.any():
        return hu, TumourRecord(known, False, "not found", 0.0, None, "no solid lesion found: left in place")
    side = side_of(mask, midline)
    centre = tuple(round(float(c), 1) for c in np.argwhere(mask).mean(0))
    vol = round(float(mask.sum() * VOXEL_ML), 1)
    if known is not None and known != side:
        note = f"found a lesion on the {side}, but the tumour is known to be {known}: left in place"
        return hu, TumourRecord(known, False, source, vol, centre, note)  # type: ignore[arg-type]
    return refill(hu, mask, lungs), TumourRecord(side, True, source, vol, centre)  # type: ignore[arg-type]
