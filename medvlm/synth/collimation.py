"""Shutters: the exposed field is a (sometimes tilted, sometimes off-centre) rectangle; outside it the
film stays white (only scatter arrived) or an electronic shutter masks it black."""

from __future__ import annotations

import numpy as np

from medvlm.synth.acquisition import Acquisition


def field_alpha(
    size: int, acq: Acquisition, limits: tuple[int, int, int, int] | None = None
) -> tuple[np.ndarray | None, tuple[int, int, int, int]]:
    """The exposed-field weight (1 inside, 0 outside, a 1-2 px penumbra) and its bounding box (top,
    bottom, left, right). ``limits`` (same order) keeps the field inside the region the CT covers."""
    t, b, lft, rgt = acq.collimation
    top, bottom = t * size, size - 1 - b * size
    left, right = lft * size, size - 1 - rgt * size
    if limits is not None:
        top, bottom = max(top, limits[0]), min(bottom, limits[1])
        left, right = max(left, limits[2]), min(right, limits[3])
    box = (int(np.ceil(top)), int(bottom), int(np.ceil(left)), int(right))
    if acq.collimation == (0.0, 0.0, 0.0, 0.0) and limits is None:
        return None, (0, size - 1, 0, size - 1)
    penumbra = max(1.0, size / 400)
    v = np.arange(size, dtype=np.float32)
    if acq.collimation_tilt_deg == 0.0:  # separable: the minimum of a row and a column profile
        row_in = np.minimum(v - top, bottom - v)[:, None]
        col_in = np.minimum(v - left, right - v)[None, :]
        return np.clip(np.minimum(row_in, col_in) / penumbra + 0.5, 0.0, 1.0), box
    a = np.radians(acq.collimation_tilt_deg)
    yy, xx = v[:, None] - (top + bottom) / 2, v[None, :] - (left + right) / 2
    # Distances to the tilted rectangle's edges, in the rectangle's own frame.
    ry = np.cos(a) * yy + np.sin(a) * xx
    rx = -np.sin(a) * yy + np.cos(a) * xx
    inside = np.minimum((bottom - top) / 2 - np.abs(ry), (right - left) / 2 - np.abs(rx))
    return np.clip(inside / penumbra + 0.5, 0.0, 1.0).astype(np.float32), box


def shutter(
    y: np.ndarray, alpha: np.ndarray | None, acq: Acquisition, rng: np.random.Generator
) -> np.ndarray:
    """Blend the border in: white with a little structure-free noise, or black for an electronic shutter."""
    if alpha is None:
        return y
    if acq.shutter_black:
        border: np.ndarray | float = 0.0
    else:  # white, a little uneven (heel effect, scatter under the blades)
        border = 0.93 + np.linspace(-0.02, 0.02, y.shape[0], dtype=np.float32)[:, None] * rng.uniform(-1, 1)
    return (y * alpha + border * (1 - alpha)).astype(np.float32)
