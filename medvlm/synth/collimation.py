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
    a = np.radians(acq.collimation_tilt_deg)
    v = np.arange(size, dtype=np.float32) - (size - 1) / 2
    yy, xx = v[:, None], v[None, :]
    cr, cc = (top + bottom) / 2 - (size - 1) / 2, (left + right) / 2 - (size - 1) / 2
    # Distances to the tilted rectangle's edges, in the rectangle's own frame.
    ry = np.cos(a) * (yy - cr) + np.sin(a) * (xx - cc)
    rx = -np.sin(a) * (yy - cr) + np.cos(a) * (xx - cc)
    inside = np.minimum((bottom - top) / 2 - np.abs(ry), (right - left) / 2 - np.abs(rx))
    penumbra = max(1.0, size / 400)
    return np.clip(inside / penumbra + 0.5, 0.0, 1.0).astype(np.float32), box


def shutter(
    y: np.ndarray, alpha: np.ndarray | None, acq: Acquisition, rng: np.random.Generator
) -> np.ndarray:
    """Blend the border in: white with a little structure-free noise, or black for an electronic shutter."""
    if alpha is None:
        return y
    if acq.shutter_black:
        border: np.ndarray | float = 0.0
    else:
        border = 0.93 + 0.01 * rng.standard_normal(y.shape, dtype=np.float32)
    return (y * alpha + border * (1 - alpha)).astype(np.float32)
