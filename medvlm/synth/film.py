"""From projected attenuation to a film: pose, scale, inspiration, exposure, processing, noise and blur."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from medvlm.synth.grid import GRID_SHAPE, PIXEL_MM

FIELD_PX = 480  # the square of the working grid a film shows at scale 1 (337 mm)
MAX_VALUE = 4095
TOP_PAD = 64  # 12 bits stored


@dataclass(frozen=True)
class Acquisition:
    rotation_deg: float = 0.0
    scale: float = 1.0  # >1 zooms in (a smaller patient or a tighter field)
    shift_rows: float = 0.0  # working-grid pixels
    shift_cols: float = 0.0
    inspiration: float = 1.0  # vertical stretch below the apices (deeper breath > 1)
    window_low: float = 5.5  # cm water shown black / white before processing
    window_high: float = 32.0
    gamma: float = 0.95
    equalisation: float = 0.6  # unsharp-mask strength, as detector processing does
    noise: float = 0.01
    blur_px: float = 0.5

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Acquisition:
        return cls(
            rotation_deg=float(rng.uniform(-4, 4)),
            scale=float(rng.uniform(0.92, 1.1)),
            shift_rows=float(rng.uniform(-12, 12)),
            shift_cols=float(rng.uniform(-12, 12)),
            inspiration=float(rng.uniform(0.95, 1.05)),
            window_low=float(rng.uniform(4.0, 7.0)),
            window_high=float(rng.uniform(30.0, 34.0)),
            gamma=float(rng.uniform(0.8, 1.05)),
            equalisation=float(rng.uniform(0.4, 0.8)),
            noise=float(rng.uniform(0.004, 0.02)),
            blur_px=float(rng.uniform(0.0, 1.0)),
        )

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def sample_grid(acq: Acquisition, size: int, apex_row: float) -> tuple[np.ndarray, np.ndarray]:
    """Working-grid (row, col) coordinates for every output pixel."""
    step = FIELD_PX / size / acq.scale
    centre_r = GRID_SHAPE[0] / 2 + acq.shift_rows
    centre_c = GRID_SHAPE[1] / 2 + acq.shift_cols
    v = (np.arange(size) - (size - 1) / 2) * step
    yy, xx = np.meshgrid(v, v, indexing="ij")
    a = np.radians(acq.rotation_deg)
    rows = centre_r + np.cos(a) * yy - np.sin(a) * xx
    cols = centre_c + np.sin(a) * yy + np.cos(a) * xx
    # Inspiration: everything below the apices is stretched (the diaphragm moves down).
    rows = np.where(rows > apex_row, apex_row + (rows - apex_row) / acq.inspiration, rows)
    return rows, cols


def film_point(acq: Acquisition, size: int, apex_row: float, row: float, col: float) -> tuple[float, float]:
    """Where working-grid point (row, col) lands on the film, in film pixels: ``sample_grid`` inverted."""
    if row > apex_row:  # the inspiration stretch below the apices
        row = apex_row + (row - apex_row) * acq.inspiration
    d_row, d_col = row - (GRID_SHAPE[0] / 2 + acq.shift_rows), col - (GRID_SHAPE[1] / 2 + acq.shift_cols)
    a = np.radians(acq.rotation_deg)
    yy = np.cos(a) * d_row + np.sin(a) * d_col
    xx = -np.sin(a) * d_row + np.cos(a) * d_col
    step = FIELD_PX / size / acq.scale
    return float(yy / step + (size - 1) / 2), float(xx / step + (size - 1) / 2)


def _low_pass(x: np.ndarray, sigma: float, factor: int = 8) -> np.ndarray:
    """A wide Gaussian blur computed at 1/factor resolution (the full-size filter took ~50 ms a film)."""
    h, w = x.shape
    ph, pw = -h % factor, -w % factor
    small = np.pad(x, ((0, ph), (0, pw)), mode="edge").reshape(
        (h + ph) // factor, factor, (w + pw) // factor, factor
    )
    small = ndimage.gaussian_filter(small.mean(axis=(1, 3)), sigma / factor, mode="nearest")
    zoom = ((h + ph) / small.shape[0], (w + pw) / small.shape[1])
    return ndimage.zoom(small, zoom, order=1, mode="nearest", grid_mode=True)[:h, :w]


def develop(
    projection: np.ndarray, acq: Acquisition, size: int, apex_row: float, rng: np.random.Generator
) -> np.ndarray:
    """The film as uint16 (0..4095, bone bright) at size x size."""
    rows, cols = sample_grid(acq, size, apex_row)
    # The CT stops 2 cm above the lung apices; a film shows some neck, so extend the top (and bottom)
    # rows smoothly (a blurred copy of the edge slices) instead of smearing their bones outward.
    top = ndimage.gaussian_filter1d(projection[:6].mean(axis=0), 8.0)
    bottom = ndimage.gaussian_filter1d(projection[-6:].mean(axis=0), 8.0)
    padded = np.concatenate(
        [np.repeat(top[None, :], TOP_PAD, axis=0), projection, np.repeat(bottom[None, :], TOP_PAD, axis=0)],
        axis=0,
    )
    p = ndimage.map_coordinates(padded, [rows + TOP_PAD, cols], order=1, mode="nearest")
    x = np.clip((p - acq.window_low) / (acq.window_high - acq.window_low), 0.0, 1.0).astype(np.float32)
    low = _low_pass(x, sigma=size / 20)
    y = np.clip(x + acq.equalisation * (x - low), 0.0, 1.0) ** acq.gamma
    if acq.blur_px > 0.05:
        y = ndimage.gaussian_filter(y, sigma=acq.blur_px * size / 512)
    # Quantum noise: larger where fewer photons reach the detector (bright = attenuating areas).
    y = y + rng.standard_normal(y.shape, dtype=np.float32) * acq.noise * (0.5 + y)
    return np.clip(np.rint(y * MAX_VALUE), 0, MAX_VALUE).astype(np.uint16)


def pixel_spacing_mm(acq: Acquisition, size: int) -> float:
    return FIELD_PX * PIXEL_MM / size / acq.scale
