"""Heart, spine line, bones, clavicles and the tubes devices follow, for segment.py (canonical grid).

Positions are anchored on what thresholds find reliably (lungs, trachea, the vertebral bodies) and placed
at their usual distances from them; sizes are adult averages in mm.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from medvlm.synth.grid import SPACING_MM
from medvlm.synth.segment_shapes import box, ellipsoid, mm, span, tube

BONE_HU = 200.0


def spine_front(hu: np.ndarray, body: np.ndarray, midline: float) -> np.ndarray:
    """Per slice k, the j of the vertebral body's anterior surface (interpolated where not found)."""
    n_k = hu.shape[2]
    strip = slice(int(midline - mm(10)), int(midline + mm(10)) + 1)
    front = np.full(n_k, np.nan)
    for k in range(n_k):
        rows = np.nonzero(body[:, :, k].any(axis=0))[0]
        if rows.size == 0:
            continue
        j_mid = (rows.min() + rows.max()) / 2.0
        bone_j = np.nonzero((hu[strip, :, k] > BONE_HU).any(axis=0))[0]
        bone_j = bone_j[bone_j < j_mid]
        if bone_j.size:
            # The vertebral body is the anterior-most run of bone behind the body's middle.
            front[k] = bone_j.max()
    ok = ~np.isnan(front)
    if not ok.any():
        return np.full(n_k, hu.shape[1] * 0.35)
    return np.interp(np.arange(n_k), np.nonzero(ok)[0], front[ok])


def heart(
    hu: np.ndarray, lungs: np.ndarray, body: np.ndarray, spine: np.ndarray, midline: float
) -> np.ndarray:
    """Soft tissue between the lungs, in front of the spine, up to ~48 % of lung height, down to where the
    lungs' cross-section falls below half its largest (the domes: below them the lungs are only their
    recesses, and what lies between those is liver, stomach and spleen), and within 9.5 cm left and 6 cm
    right of the midline (the spleen and stomach under the left dome otherwise join it)."""
    k_idx = np.nonzero(lungs.any(axis=(0, 1)))[0]
    k0, k1 = k_idx.min(), k_idx.max()
    top = int(k0 + 0.48 * (k1 - k0))
    area = lungs.sum(axis=(0, 1)).astype(np.float64)
    below_domes = np.nonzero(area[: int(np.argmax(area))] < 0.5 * area.max())[0]
    k0 = max(k0, int(below_domes.max()) + 1) if below_domes.size else k0
    between = span(lungs) & ~ndimage.binary_dilation(lungs, iterations=2) & body
    soft = (hu > -120.0) & (hu < 600.0)
    jj = np.arange(hu.shape[1])[None, :, None]
    front = jj > (spine[None, None, :] + mm(25, 1))
    cand = between & soft & front
    cand[:, :, top:] = False
    cand[:, :, : max(k0 - 1, 0)] = False
    # The liver dome sits under the right lung base: keep the heart within ~6 cm right of the midline.
    cand[: int(midline - mm(60))] = False
    cand[int(midline + mm(95)) :] = False
    if not cand.any():
        return cand
    region = box(cand, pad=6)
    sub = ndimage.binary_opening(cand[region], iterations=3)
    lab, n = ndimage.label(sub)
    out = np.zeros_like(cand)
    if n == 0:
        return out
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    sub = ndimage.binary_closing(lab == int(np.argmax(sizes)), iterations=3)
    for k in range(sub.shape[2]):
        sub[:, :, k] = ndimage.binary_fill_holes(sub[:, :, k])
    out[region] = sub
    return out & ~lungs & _heart_envelope(out, lungs, midline)


# The heart's largest extent across, in lung widths, and the share of it right of the midline: a normal
# adult heart spans ~45 % of the thorax on a PA film, about a third of it right of the midline.
HEART_SPAN = 0.48
HEART_RIGHT_SHARE = 0.35


def _heart_envelope(heart: np.ndarray, lungs: np.ndarray, midline: float) -> np.ndarray:
    """An ellipsoid the heart fits in: the soft tissue between the lungs is cut to a window, and without
    this its silhouette was that window (a box with straight sides and a flat top), which every film's
    heart warp then bent into S-shaped lungs. The ellipsoid rounds the top and the sides; the lungs and
    the domes still bound it where they are nearer."""
    if not heart.any():
        return heart
    cols = np.nonzero(lungs.any(axis=(1, 2)))[0]
    width = float(np.ptp(cols)) * SPACING_MM[0]
    ri = HEART_SPAN * width / 2.0
    ci = midline + (1.0 - 2.0 * HEART_RIGHT_SHARE) * ri / SPACING_MM[0]
    idx = np.argwhere(heart)
    (_, j0, k0), (_, j1, k1) = idx.min(0), idx.max(0)
    rj = (j1 - j0 + 1) * SPACING_MM[1] / 2.0 + 5.0
    rk = (k1 - k0 + 1) * SPACING_MM[2] * 0.6  # centred low: the top rounds, the base stays on the domes
    ck = k0 + 0.4 * (k1 - k0)
    centre = np.array([ci, (j0 + j1) / 2.0, ck])
    return ellipsoid(heart.shape, centre, (ri, rj, rk))


def bone(hu: np.ndarray, body: np.ndarray, lungs: np.ndarray, spine: np.ndarray) -> np.ndarray:
    """> 200 HU, except inside the mediastinum in front of the spine (contrast-filled heart and vessels)."""
    inner = ndimage.binary_erosion(span(lungs), iterations=mm(4))
    jj = np.arange(hu.shape[1])[None, :, None]
    vessels = inner & (jj > spine[None, None, :] + mm(3, 1)) & ~lungs
    return (hu > BONE_HU) & body & ~vessels


def clavicles(bone_mask: np.ndarray, trachea: np.ndarray, midline: float) -> dict[str, np.ndarray]:
    """The largest anterior bone component of each side in the slices above the top of the lungs' hila."""
    t = np.argwhere(trachea)
    k_top = t[:, 2].max()
    k_lo = max(int(t[:, 2].min() + (k_top - t[:, 2].min()) * 0.55), 0)
    j_front = t[:, 1].mean() + mm(5, 1)
    out = {}
    for name, sel in (
        ("clavicula_right", slice(0, int(midline - mm(15)))),
        ("clavicula_left", slice(int(midline + mm(15)), bone_mask.shape[0])),
    ):
        cand = np.zeros_like(bone_mask)
        sub = bone_mask[sel, :, k_lo:]
        jj = np.arange(bone_mask.shape[1])[None, :, None]
        cand[sel, :, k_lo:] = sub & (jj > j_front)
        lab, n = ndimage.label(cand)
        if n == 0:
            out[name] = cand
            continue
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        out[name] = lab == int(np.argmax(sizes))
    return out


def vessels_and_gut(
    shape: tuple[int, ...],
    trachea: np.ndarray,
    heart_mask: np.ndarray,
    lungs: np.ndarray,
    spine: np.ndarray,
    midline: float,
) -> dict[str, np.ndarray]:
    """Oesophagus, aorta, SVC, brachiocephalic veins (tubes) and stomach (an ellipsoid)."""
    t = np.argwhere(trachea)
    carina_k = float(t[:, 2].min())
    top_k = float(shape[2] - 1)
    ti, tj = t[:, 0].mean(), t[:, 1].mean()
    k_idx = np.nonzero(lungs.any(axis=(0, 1)))[0]
    base_k = float(k_idx.min())
    if heart_mask.any():
        h = np.argwhere(heart_mask)
        heart_top, heart_j = float(h[:, 2].max()), float(h[:, 1].mean())
    else:
        heart_top, heart_j = carina_k - mm(30, 2), tj + mm(30, 1)
    dk = 1.0 / SPACING_MM[2]
    sf = lambda k: float(spine[int(np.clip(k, 0, shape[2] - 1))])  # noqa: E731
    eso = [
        (ti + mm(5), tj - mm(14, 1), top_k),
        (ti + mm(8), tj - mm(14, 1), carina_k),
        (midline + mm(12), sf(base_k + 40 * dk) + mm(10, 1), base_k + 40 * dk),
        (midline + mm(30), sf(base_k) + mm(25, 1), base_k - 15 * dk),
    ]
    arch_k = carina_k + 25 * dk
    aorta = [
        (midline - mm(12), heart_j, heart_top - 10 * dk),
        (midline - mm(10), heart_j, arch_k - 15 * dk),
        (midline, tj + mm(10, 1), arch_k),
        (midline + mm(22), sf(arch_k) + mm(5, 1), arch_k - 15 * dk),
        (midline + mm(22), sf(base_k) + mm(8, 1), base_k - 10 * dk),
    ]
    svc_i, svc_j, svc_top = midline - mm(28), tj + mm(12, 1), carina_k + 30 * dk
    svc = [(svc_i, svc_j, heart_top - 5 * dk), (svc_i, svc_j, svc_top)]
    bcv_r = [(svc_i, svc_j, svc_top), (midline - mm(40), svc_j + mm(5, 1), svc_top + 45 * dk)]
    bcv_l = [(svc_i, svc_j, svc_top), (midline + mm(45), svc_j + mm(15, 1), svc_top + 40 * dk)]
    out = {
        "esophagus": tube(shape, eso, 7.0),
        "aorta": tube(shape, aorta[:3], 14.0) | tube(shape, aorta[2:], 11.0),
        "superior_vena_cava": tube(shape, svc, 9.0),
        "brachiocephalic_vein_right": tube(shape, bcv_r, 6.0),
        "brachiocephalic_vein_left": tube(shape, bcv_l, 6.0),
    }
    st_k = max(base_k - 35 * dk, 20 * dk)
    out["stomach"] = ellipsoid(shape, np.array([midline + mm(60), sf(st_k) + mm(70, 1), st_k]), (45, 40, 35))
    # Nothing of these runs through lung.
    return {k: v & ~lungs for k, v in out.items()}
