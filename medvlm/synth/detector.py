"""What the detector and the vendor's processing make of the X-rays that pass the patient.

Physics first (line integrals in cm water -> primary transmission, plus scatter, plus quantum noise that
follows the number of photons, back to log), then processing as CR/DX vendors do it: exposure recognition
(a window from the in-field histogram), multi-scale contrast (large-scale equalisation + fine edge
enhancement), a sigmoid characteristic curve and gamma, detector blur, and a stationary grid's line pattern.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

from medvlm.synth.acquisition import Acquisition

MU_WATER = 0.2  # 1/cm: an effective attenuation of water for a chest beam (~60 keV effective)
# Depth scatter: the acquisition's scatter fraction scaled so that a grid gives scatter-to-primary ~0.1 in
# the lungs and ~1-2 behind the mediastinum, about 4x that without a grid (published chest measurements).
DEPTH_SCATTER_SCALE = 0.27
# Compression: the share of the equalisation strength that pulls the large scale to its mean.
COMPRESSION = 0.6


@lru_cache(maxsize=16)
def _bilinear(n_small: int, n_big: int, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices and weights to interpolate block centres back to pixels along one axis."""
    pos = np.clip((np.arange(n_big) + 0.5) / factor - 0.5, 0, n_small - 1)
    lo = np.minimum(np.floor(pos).astype(np.intp), max(n_small - 2, 0))
    hi = np.minimum(lo + 1, n_small - 1)
    return lo, hi, (pos - lo).astype(np.float32)


def low_pass(x: np.ndarray, sigma: float, factor: int = 8) -> np.ndarray:
    """A wide Gaussian blur computed at 1/factor resolution, then bilinear back up by two gathers (the
    full-size filter took ~50 ms a film, ndimage.zoom back up ~3 ms; BLAS products thrash a busy box)."""
    h, w = x.shape
    ph, pw = -h % factor, -w % factor
    small = np.pad(x, ((0, ph), (0, pw)), mode="edge").reshape(
        (h + ph) // factor, factor, (w + pw) // factor, factor
    )
    small = ndimage.gaussian_filter(small.mean(axis=(1, 3), dtype=np.float32), sigma / factor, mode="nearest")
    r_lo, r_hi, r_f = _bilinear(small.shape[0], h, factor)
    c_lo, c_hi, c_f = _bilinear(small.shape[1], w, factor)
    rows = small[r_lo] + (small[r_hi] - small[r_lo]) * r_f[:, None]
    return rows[:, c_lo] + (rows[:, c_hi] - rows[:, c_lo]) * c_f[None, :]


def expose(p: np.ndarray, acq: Acquisition, rng: np.random.Generator) -> np.ndarray:
    """Line integrals (cm water) -> what the detector reads, back in cm water: scatter lowers the contrast
    behind dense parts, and quantum noise grows where few photons arrive (dense parts, low dose)."""
    if acq.scatter <= 0 and acq.dose <= 0:
        return p
    primary = np.exp(-MU_WATER * p)
    signal = primary + _scatter(primary, acq) if acq.scatter > 0 else primary
    if acq.dose > 0:
        quanta = acq.dose * (512.0 / p.shape[0]) ** 2  # a bigger pixel collects more photons
        counts = signal * quanta
        counts = counts + np.sqrt(counts) * rng.standard_normal(p.shape, dtype=np.float32)
        signal = np.maximum(counts, 1.0) / quanta
    return (-np.log(signal) / MU_WATER).astype(np.float32)


def _scatter(primary: np.ndarray, acq: Acquisition) -> np.ndarray:
    """Scatter reaching the detector; either way its share is largest behind the mediastinum."""
    if acq.scatter_model == "depth":  # born at mid-depth, spread wide: the sqrt of the transmission
        spread = low_pass(np.sqrt(primary), sigma=primary.shape[0] / 6, factor=16)
        return acq.scatter * DEPTH_SCATTER_SCALE * spread
    return acq.scatter * low_pass(primary, sigma=primary.shape[0] / 10, factor=16)


def window(p: np.ndarray, acq: Acquisition, field: np.ndarray | None) -> np.ndarray:
    """Exposure recognition: 0..1 between low and high in-field percentiles (auto) or the fixed window."""
    if acq.auto_window:
        values = p[::4, ::4][field[::4, ::4]] if field is not None else p[::4, ::4].ravel()
        if values.size < 16:
            values = p.ravel()
        low, high = np.percentile(values, [1.0, 99.7])
        span = float(max(high - low, 1.0))
        low, high = float(low) - acq.black_margin * span, float(low) + (1 + acq.white_margin) * span
    else:
        low, high = acq.window_low, acq.window_high
    return np.clip((p - low) / (high - low), 0.0, 1.0).astype(np.float32)


LUT_SIZE = 4096


@lru_cache(maxsize=64)
def characteristic_lut(curve: float, gamma: float) -> np.ndarray:
    """0..1 -> 0..1: an S-shaped film-like curve (steepness ``curve``, 0 = straight) then gamma."""
    y = np.linspace(0.0, 1.0, LUT_SIZE)
    if curve > 0:  # rescaled to keep 0 and 1
        lo, hi = 1 / (1 + np.exp(curve / 2)), 1 / (1 + np.exp(-curve / 2))
        y = (1 / (1 + np.exp(-curve * (y - 0.5))) - lo) / (hi - lo)
    return (np.clip(y, 0.0, 1.0) ** gamma).astype(np.float32)


def process(x: np.ndarray, acq: Acquisition) -> np.ndarray:
    """Multi-scale enhancement (``acq.processing``), characteristic curve, gamma and detector blur on a 0..1
    image."""
    size = x.shape[0]
    large = low_pass(x, sigma=size / 20)
    if acq.processing == "compress":  # large scale pulled to its mean, detail lifted by the same share
        k = COMPRESSION * acq.equalisation
        centre = float(large.mean())
        y = centre + (1 - k) * (large - centre) + (1 + k) * (x - large)
    else:  # a large-scale unsharp mask
        y = x + acq.equalisation * (x - large)
    if acq.edge_gain > 0:
        y = y + acq.edge_gain * (x - ndimage.gaussian_filter(x, sigma=2.0 * size / 512, truncate=2.5))
    y = np.clip(y, 0.0, 1.0)
    if acq.curve > 0 or acq.gamma != 1.0:  # as a 4096-entry look-up table, as detectors apply it
        y = characteristic_lut(acq.curve, acq.gamma)[np.rint(y * (LUT_SIZE - 1)).astype(np.intp)]
    if acq.blur_px > 0.05:
        y = ndimage.gaussian_filter(y, sigma=acq.blur_px * size / 512, truncate=3.0)
    return y.astype(np.float32)


def grid_pattern(shape: tuple[int, int], acq: Acquisition) -> np.ndarray | None:
    """A stationary grid's lead strips (vertical lines, aliased to a few pixels' period at this size)."""
    if acq.grid_lines <= 0:
        return None
    cols = np.arange(shape[1], dtype=np.float32)
    return (acq.grid_lines * np.cos(2 * np.pi * cols / acq.grid_period_px))[None, :]
