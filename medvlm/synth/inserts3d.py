"""Findings inserted in the CT volume itself, projected as deltas (projections are linear, so a film is
the base projection plus the projection of each finding's attenuation change over its own voxels).

Each returns the change as sparse voxels (``Points``), projected once per view (frontal, lateral).
These three need the third dimension to look right, so the atlas computes them once per level:
- cardiomegaly: the heart scaled about its centre (more across and front-to-back than head-to-foot),
  new heart voxels taking blood density where lung or fat was;
- pleural effusion: lung voxels below a fluid surface that rises laterally and posteriorly (the meniscus
  of an upright film, not a ruler-straight level) become water;
- pneumothorax: the lung collapsed toward its hilum, the freed pleural space air without vessels, the
  collapsed lung denser, and a thin visceral pleural line on its surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from medvlm.synth.grid import View, project_points

WATER_MU = 1.0
BLOOD_MU = 1.04


@dataclass(frozen=True)
class Points:
    """A sparse 3-D attenuation change (voxel indices and weights), projected per view on demand: one
    volume computation serves the frontal and the lateral atlas."""

    i: np.ndarray
    j: np.ndarray
    k: np.ndarray
    w: np.ndarray

    def project(self, view: View = "frontal") -> np.ndarray:
        return project_points(self.i, self.j, self.k, self.w, view)


def _bbox(mask: np.ndarray, pad: int = 0) -> tuple[slice, ...]:
    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(0) - pad, 0)
    hi = np.minimum(idx.max(0) + 1 + pad, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def _scaled_mask(
    mask: np.ndarray, centre: np.ndarray, scale: np.ndarray, region: tuple[slice, ...]
) -> np.ndarray:
    """mask scaled about centre (voxel units, per axis), evaluated on region by nearest back-mapping."""
    axes = [np.arange(s.start, s.stop) for s in region]
    src = [
        np.clip(np.rint(centre[a] + (axes[a] - centre[a]) / scale[a]).astype(int), 0, mask.shape[a] - 1)
        for a in range(3)
    ]
    return mask[np.ix_(*src)]


def cardiomegaly_delta(
    mu: np.ndarray, heart: np.ndarray, lungs: np.ndarray, scale: float
) -> tuple[Points, Points]:
    """(attenuation change, voxels of the enlarged heart) for a heart enlarged by ``scale``."""
    centre = np.argwhere(heart).mean(0)
    factors = np.array([scale, scale, 1.0 + (scale - 1.0) * 0.4])
    extent = np.argwhere(heart)
    # The scaled heart's own box (the heart is not symmetric about its centre: a box of half-extents
    # around the centre would cut the enlarged heart with straight edges).
    lo = np.maximum(np.floor(centre + (extent.min(0) - centre) * factors) - 2, 0).astype(int)
    hi = np.minimum(np.ceil(centre + (extent.max(0) - centre) * factors) + 3, heart.shape).astype(int)
    region = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    big = _scaled_mask(heart, centre, factors, region)
    sub_mu = mu[region]
    # The heart grows into lung and mediastinal fat, not through bone or the spine.
    grow = big & ~heart[region] & (sub_mu < BLOOD_MU) & (lungs[region] | (sub_mu > 0.8))
    ii, jj, kk = np.nonzero(grow)
    delta = Points(ii + lo[0], jj + lo[1], kk + lo[2], (BLOOD_MU - sub_mu[grow]).astype(np.float64))
    bi, bj, bk = np.nonzero(big | heart[region])
    shadow = Points(bi + lo[0], bj + lo[1], bk + lo[2], np.ones(bi.size))
    return delta, shadow


class EffusionField:
    """Per lung voxel of one side, its fill ratio: a fluid level h (mm) fills the voxels whose ratio < h."""

    def __init__(
        self, mu: np.ndarray, lung_side: np.ndarray, spacing_k: float, lateral_is_high_i: bool
    ) -> None:
        i, j, k = np.nonzero(lung_side)
        self.i, self.j, self.k = i, j, k
        self.fill = (WATER_MU - mu[i, j, k]).astype(np.float64)
        height = (k - k.min()) * spacing_k  # mm above the lowest (posterior costophrenic) lung voxel
        # Per-slice lateral and posterior position within this lung: in an upright patient the fluid
        # layers posteriorly and its surface rises toward the lateral chest wall (the meniscus).
        lateral = np.zeros(i.size)
        posterior = np.zeros(i.size)
        for kk in np.unique(k):
            sel = k == kk
            ii, jj = i[sel], j[sel]
            lateral[sel] = (ii - ii.min()) / max(int(ii.max() - ii.min()), 1)
            posterior[sel] = (jj.max() - jj) / max(int(jj.max() - jj.min()), 1)
        if not lateral_is_high_i:
            lateral = 1.0 - lateral
        self.ratio = height / (0.7 + 0.45 * lateral**2 + 0.25 * posterior)

    def delta(self, level_mm: float, taper_mm: float = 12.0) -> Points:
        # The fluid thins out toward its upper edge: a soft top, not a sharp cut.
        weight = np.clip((level_mm - self.ratio) / taper_mm, 0.0, 1.0)
        sel = weight > 0
        return Points(self.i[sel], self.j[sel], self.k[sel], self.fill[sel] * weight[sel])


def pneumothorax_delta(mu: np.ndarray, lung_side: np.ndarray, scale: float, medial_is_high_i: bool) -> Points:
    """Delta projection of one lung collapsed to ``scale`` about its hilum."""
    region = _bbox(lung_side, pad=1)
    sub = lung_side[region]
    idx = np.argwhere(sub)
    lo_i, hi_i = idx[:, 0].min(), idx[:, 0].max()
    medial_i = hi_i - 0.15 * (hi_i - lo_i) if medial_is_high_i else lo_i + 0.15 * (hi_i - lo_i)
    lo_k, hi_k = idx[:, 2].min(), idx[:, 2].max()
    # Upright patient: the air rises, so the lung falls away from the apex and the lateral wall and stays
    # on the diaphragm; collapse toward a point low and medial (the hilum and pulmonary ligament).
    centre = np.array([medial_i, idx[:, 1].mean(), lo_k + 0.08 * (hi_k - lo_k)])
    factors = np.array([scale, scale, scale])
    local = tuple(slice(0, s.stop - s.start) for s in region)
    collapsed = _scaled_mask(sub, centre, factors, local) & sub
    sub_mu = mu[region]
    axes = [np.arange(n) for n in sub.shape]
    src = np.ix_(
        *[
            np.clip(np.rint(centre[a] + (axes[a] - centre[a]) / factors[a]).astype(int), 0, sub.shape[a] - 1)
            for a in range(3)
        ]
    )
    # Mass is conserved, so the collapsed lung is denser; softened so vessels stay visible inside it.
    dense = np.minimum(sub_mu[src] * (1.0 / scale) ** 1.5, 1.0)
    new_mu = np.where(collapsed, dense, 0.0)
    surface = collapsed & ~ndimage.binary_erosion(collapsed, iterations=1)
    new_mu = np.where(surface, np.maximum(new_mu, 0.6), new_mu)
    change = np.where(sub, new_mu - sub_mu, 0.0)
    ii, jj, kk = np.nonzero(sub)
    return Points(
        ii + region[0].start, jj + region[1].start, kk + region[2].start, change[sub].astype(np.float64)
    )
