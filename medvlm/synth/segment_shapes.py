"""Shape helpers of the chest segmentation: millimetres to voxels, spans, tubes and ellipsoids."""

from __future__ import annotations

import numpy as np

from medvlm.synth.grid import SPACING_MM


def mm(n: float, axis: int = 0) -> int:
    return max(round(n / SPACING_MM[axis]), 1)


def span(mask: np.ndarray) -> np.ndarray:
    """Per (j, k) row, everything between the leftmost and rightmost mask voxel (along i)."""
    fwd = np.logical_or.accumulate(mask, axis=0)
    back = np.logical_or.accumulate(mask[::-1], axis=0)[::-1]
    return fwd & back


def tube(shape: tuple[int, ...], pts_mm: list[tuple[float, float, float]], radius_mm: float) -> np.ndarray:
    """A tube through control points given in voxel units of (i, j, k), radius in mm."""
    out = np.zeros(shape, dtype=bool)
    pts = np.array(pts_mm, dtype=np.float64)
    ks = np.arange(int(np.ceil(pts[:, 2].min())), int(np.floor(pts[:, 2].max())) + 1)
    order = np.argsort(pts[:, 2])
    ci = np.interp(ks, pts[order, 2], pts[order, 0])
    cj = np.interp(ks, pts[order, 2], pts[order, 1])
    r = radius_mm / SPACING_MM[0]
    ii, jj = np.ogrid[: shape[0], : shape[1]]
    for k, a, b in zip(ks, ci, cj, strict=True):
        if 0 <= k < shape[2]:
            out[:, :, k] = (ii - a) ** 2 + (jj - b) ** 2 <= r * r
    return out


def ellipsoid(shape: tuple[int, ...], centre: np.ndarray, radii_mm: tuple[float, float, float]) -> np.ndarray:
    axes = np.ogrid[: shape[0], : shape[1], : shape[2]]
    d = sum(((ax - c) * s / r) ** 2 for ax, c, s, r in zip(axes, centre, SPACING_MM, radii_mm, strict=True))
    return d <= 1.0


def box(mask: np.ndarray, pad: int) -> tuple[slice, ...]:
    """The bounding box of mask, padded, as slices."""
    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(0) - pad, 0)
    hi = np.minimum(idx.max(0) + 1 + pad, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
