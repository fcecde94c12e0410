"""One robust intensity normalisation for every film, synthetic or real (after Modality LUT, VOI and
MONOCHROME1 inversion have made a 0..1 display image).

A display image still carries its source: a window choice, a vendor's processing curve, how much air or
collimator border is in the field. Synthetic films came out darker and with a floor of black background
(p10 0.01) where real films sit higher (p10 0.2-0.5), so real films reached the model out of distribution.
Here the image region (pixels strictly between the frame's min and max: collimator borders, burnt-in
black or white padding excluded when they are not most of the frame) gives five percentile landmarks that
are mapped piecewise-linearly to fixed values and clipped (Nyul-Udupa landmark standardisation). The map
is monotone, so what is brighter stays brighter and local contrast is kept; the global level and shape of
the histogram, which says more about the device than the patient, is taken away. Targets are the median
landmarks of real CR/DX films (../shared/realfilm), so real films move least.
"""

from __future__ import annotations

import numpy as np

QUANTILES = (1.0, 10.0, 50.0, 90.0, 99.0)
TARGETS = (0.0, 0.2, 0.6, 0.85, 1.0)
MIN_REGION = 0.25  # below this share of pixels inside (min, max), use the whole frame
NORMALISATION_VERSION = "landmarks-v1"


def image_region(values: np.ndarray) -> np.ndarray:
    """The pixels strictly between the frame's min and max, or all of them when that is too few."""
    lo, hi = float(values.min()), float(values.max())
    inside = values[(values > lo) & (values < hi)]
    return inside if inside.size >= MIN_REGION * values.size else values.ravel()


def robust_normalise(values: np.ndarray) -> np.ndarray:
    """Map the region's percentile landmarks to ``TARGETS``; a flat image is returned unchanged."""
    values = np.asarray(values, dtype=np.float32)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros_like(values)
    landmarks = np.percentile(image_region(values[finite]), QUANTILES)
    if landmarks[-1] - landmarks[0] < 1e-6:
        return np.clip(np.nan_to_num(values), 0.0, 1.0)
    # ties (a film that is mostly one value) would make np.interp ill-defined: keep landmarks increasing
    landmarks = np.maximum.accumulate(landmarks + np.arange(len(QUANTILES)) * 1e-7)
    out = np.interp(np.nan_to_num(values, nan=float(landmarks[0])), landmarks, TARGETS)
    return out.astype(np.float32)
