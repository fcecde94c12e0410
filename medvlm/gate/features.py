"""Image features for the intended-use classifier: a few hundred numbers any display image gives.

The image is first brought to one robust scale (1st..99th percentile -> 0..1), the same for a real CR
film, a synthetic film or a photograph, so the classifier sees layout and contrast, not bit depth or
window. Features: a 16x16 thumbnail of the whole image (anatomy layout), row and column profiles,
a 16-bin histogram, aspect ratio, left-right symmetry and edge density.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

THUMB = 16
BINS = 16
FEATURES_VERSION = 1


def robust_unit(image: np.ndarray) -> np.ndarray:
    """2-D float image scaled so its 1st..99th percentiles span 0..1, clipped."""
    values = np.asarray(image, dtype=np.float32)
    if values.ndim == 3:  # colour, or 1xHxW
        values = values.mean(axis=0) if values.shape[0] == 1 else values.mean(axis=-1)
    if values.ndim != 2 or min(values.shape) < 4:
        raise ValueError(f"expected a 2-D image of at least 4x4 pixels, got shape {np.shape(image)}")
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros_like(values)
    lo, hi = np.percentile(finite, (1, 99))
    scaled = (np.nan_to_num(values, nan=float(lo)) - lo) / max(float(hi - lo), 1e-6)
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)


def _resize(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image, mode="F").resize((cols, rows), Image.Resampling.BOX))


def image_features(image: np.ndarray) -> np.ndarray:
    """The feature vector of one display image (bone bright, any size and range)."""
    unit = robust_unit(image)
    h, w = unit.shape
    small = _resize(unit, 64, 64)
    thumb = _resize(small, THUMB, THUMB)
    rows, cols = small.mean(axis=1), small.mean(axis=0)
    hist = np.histogram(unit, bins=BINS, range=(0.0, 1.0))[0] / unit.size
    flipped = thumb[:, ::-1]
    symmetry = float(np.corrcoef(thumb.ravel(), flipped.ravel())[0, 1]) if thumb.std() > 1e-6 else 1.0
    gy, gx = np.gradient(small)
    edges = np.hypot(gx, gy)
    centre = small[:, 24:40].mean() - 0.5 * (small[:, 4:20].mean() + small[:, 44:60].mean())
    extra = [np.log(h / w), symmetry, edges.mean(), (edges > 0.1).mean(), unit.mean(), unit.std(), centre,
             float((unit < 0.02).mean()), float((unit > 0.98).mean())]
    return np.concatenate([thumb.ravel(), _resize(rows[:, None], 16, 1).ravel(),
                           _resize(cols[None, :], 1, 16).ravel(), hist, np.asarray(extra)]).astype(np.float32)
