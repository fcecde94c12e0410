"""The working film grid and how CT voxels project onto it.

The film is a parallel (PA) projection along the CT's anterior-posterior axis j: film column = CT i
(patient right on the viewer's left, as a PA film is read), film row = CT k flipped (head at the top),
resampled from 2.5 mm slices to the 0.703 mm in-plane spacing so the grid is isotropic.
Projections are line integrals of attenuation relative to water, in centimetres of water.
"""

from __future__ import annotations

import numpy as np

CT_SHAPE = (512, 512, 133)
SPACING_MM = (0.703125, 0.703125, 2.5)
PIXEL_MM = SPACING_MM[0]
GRID_ROWS = round(CT_SHAPE[2] * SPACING_MM[2] / PIXEL_MM)  # 473
GRID_COLS = CT_SHAPE[0]
GRID_SHAPE = (GRID_ROWS, GRID_COLS)
STEP_CM = SPACING_MM[1] / 10.0  # path length of one voxel along the ray


def ct_to_grid(proj_ki: np.ndarray) -> np.ndarray:
    """A [k, i] projection on the CT grid -> the [row, col] film grid (rows flipped and resampled)."""
    n_k = proj_ki.shape[0]
    rows = np.arange(GRID_ROWS, dtype=np.float64)
    k = (n_k - 1) - rows * (n_k - 1) / (GRID_ROWS - 1)
    k0 = np.clip(np.floor(k).astype(int), 0, n_k - 2)
    frac = (k - k0)[:, None]
    return ((1.0 - frac) * proj_ki[k0] + frac * proj_ki[k0 + 1]).astype(np.float32)


def project(values: np.ndarray) -> np.ndarray:
    """Project a full [i, j, k] volume of attenuation (or of a mask, giving thickness) onto the film grid."""
    return ct_to_grid(values.sum(axis=1, dtype=np.float32).T * STEP_CM)


def project_points(i: np.ndarray, k: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Project sparse voxels (indices i, k and attenuation change each) onto the film grid."""
    flat = np.bincount(k * CT_SHAPE[0] + i, weights=weights, minlength=CT_SHAPE[0] * CT_SHAPE[2])
    return ct_to_grid(flat.reshape(CT_SHAPE[2], CT_SHAPE[0]) * STEP_CM)
