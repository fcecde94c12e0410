"""One robust intensity normalisation for every film, synthetic or real (after Modality LUT, VOI and
MONOCHROME1 inversion have made a 0..1 display image).

A display image still carries its source: a window choice, a vendor's processing curve, how much air or
collimator border is in the field. Synthetic films came out darker and with a floor of black background
(p10 0.01) where real films sit higher (p10 0.2-0.5), so real films reached the model out of distribution.
Here the image region (the frame less its uniform border: rows and columns at the edges that are one
flat value, as padding and figure crops leave them) gives five percentile landmarks that are mapped
piecewise-linearly to fixed values and clipped (Nyul-Udupa landmark standardisation). Clipped air inside
the field (synthetic films have 4-10% of pixels at the window floor, real ones 0-9%) stays in the region:
leaving it out made synthetic p10 0.03 against 0.19 for real films. The map
is monotone, so what is brighter stays brighter and local contrast is kept; the global level and shape of
the histogram, which says more about the device than the patient, is taken away. Targets are the median
landmarks of real CR/DX films (../shared/realfilm), so real films move least.
"""

from __future__ import annotations

import numpy as np

QUANTILES = (1.0, 10.0, 50.0, 90.0, 99.0)
TARGETS = (0.0, 0.2, 0.6, 0.85, 1.0)
NORMALISATION_VERSION = "landmarks-v2"


def _flat(lines: np.ndarray) -> np.ndarray:
    return np.ptp(lines, axis=1) == 0


def image_region(values: np.ndarray) -> np.ndarray:
    """The pixels of a 2-D image (or 1xHxW) less the flat rows and columns at its edges; all of them
    when nothing else is left (a flat image)."""
    image = values[0] if values.ndim == 3 else values
    rows, cols = _flat(image), _flat(image.T)
    r = np.nonzero(~rows)[0]
    c = np.nonzero(~cols)[0]
    if r.size == 0 or c.size == 0:
        return image.ravel()
    return image[r[0] : r[-1] + 1, c[0] : c[-1] + 1].ravel()


def robust_normalise(values: np.ndarray) -> np.ndarray:
    """Map the region's percentile landmarks to ``TARGETS``; a flat image is returned unchanged."""
    values = np.asarray(values, dtype=np.float32)
    if not np.isfinite(values).any():
        return np.zeros_like(values)
    region = image_region(np.nan_to_num(values, nan=float(np.nanmin(values))))
    landmarks = np.percentile(region, QUANTILES)
    if landmarks[-1] - landmarks[0] < 1e-6:
        return np.clip(np.nan_to_num(values), 0.0, 1.0)
    # ties (a film that is mostly one value) would make np.interp ill-defined: keep landmarks increasing
    landmarks = np.maximum.accumulate(landmarks + np.arange(len(QUANTILES)) * 1e-7)
    out = np.interp(np.nan_to_num(values, nan=float(landmarks[0])), landmarks, TARGETS)
    return out.astype(np.float32)
