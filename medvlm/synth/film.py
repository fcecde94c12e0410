"""From projected attenuation to a film: framing and pose, then the detector, shutters and labels.

``develop`` samples the projection (extended above the CT with a neck and shoulder slope) on the film's
grid, sends it through ``detector`` (scatter, dose-dependent noise, exposure recognition, multi-scale
processing, characteristic curve, blur, grid lines), masks the shutters (``collimation``) and burns in
the side marker and text (``markers``). Films are uint16, 0..4095 (12 bits), bone bright; the writer
converts them to the acquisition's bit depth and photometric interpretation.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from medvlm.synth import detector
from medvlm.synth.acquisition import PROJECTIONS, Acquisition
from medvlm.synth.collimation import field_alpha, shutter
from medvlm.synth.grid import GRID_SHAPE, PIXEL_MM
from medvlm.synth.markers import burn_labels

__all__ = [
    "PROJECTIONS", "Acquisition", "develop", "film_masks", "film_point", "pixel_spacing_mm", "sample_grid",
]

FIELD_PX = 480  # the square of the working grid a film shows at scale 1 (337 mm)
MAX_VALUE = 4095
TOP_PAD = 96  # rows of neck and shoulders synthesised above the CT (the CT stops ~2 cm above the apices)
# Where the heart sits relative to the apices and the midline (grid px), the centre of the AP magnification.
HEART_BELOW_APEX = 190.0
HEART_LEFT_OF_MIDLINE = 25.0
HEART_SIGMA = (120.0, 110.0)  # rows, cols: flat over the heart, gone before the chest wall


def _pose(acq: Acquisition, size: int, apex_row: float) -> tuple[float, float, float]:
    step = FIELD_PX / size / acq.scale
    top = apex_row - acq.headroom_mm / PIXEL_MM
    return step, top + (size - 1) / 2 * step + acq.shift_rows, GRID_SHAPE[1] / 2 + acq.shift_cols


def _heart_centre(acq: Acquisition, apex_row: float) -> tuple[float, float]:
    col = GRID_SHAPE[1] / 2 + (HEART_LEFT_OF_MIDLINE if acq.frontal else 0.0)
    return apex_row + HEART_BELOW_APEX, col


def _magnify_weight(dr: np.ndarray, dc: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * ((dr / HEART_SIGMA[0]) ** 2 + (dc / HEART_SIGMA[1]) ** 2) ** 2)  # super-Gaussian


def sample_grid(acq: Acquisition, size: int, apex_row: float) -> tuple[np.ndarray, np.ndarray]:
    """Working-grid (row, col) coordinates for every output pixel."""
    step, centre_r, centre_c = _pose(acq, size, apex_row)
    v = ((np.arange(size) - (size - 1) / 2) * step).astype(np.float32)
    yy, xx = v[:, None], v[None, :]
    a = np.radians(acq.rotation_deg)
    rows = np.float32(centre_r) + np.float32(np.cos(a)) * yy - np.float32(np.sin(a)) * xx
    cols = np.float32(centre_c) + np.float32(np.sin(a)) * yy + np.float32(np.cos(a)) * xx
    if acq.magnification != 1.0:  # AP: the heart, far from the detector, is magnified more than the ribs
        hr, hc = _heart_centre(acq, apex_row)
        dr, dc = rows - hr, cols - hc
        f = 1.0 + (acq.magnification - 1.0) * _magnify_weight(dr, dc)
        rows, cols = hr + dr / f, hc + dc / f
    # Inspiration: everything below the apices is stretched (the diaphragm moves down).
    rows = np.where(rows > apex_row, apex_row + (rows - apex_row) / acq.inspiration, rows)
    return rows, cols


def film_point(acq: Acquisition, size: int, apex_row: float, row: float, col: float) -> tuple[float, float]:
    """Where working-grid point (row, col) lands on the film, in film pixels: ``sample_grid`` inverted."""
    if row > apex_row:  # the inspiration stretch below the apices
        row = apex_row + (row - apex_row) * acq.inspiration
    if acq.magnification != 1.0:  # invert q -> c + (q - c) / f(q - c) by fixed-point iteration
        hr, hc = _heart_centre(acq, apex_row)
        qr, qc = row, col
        for _ in range(30):
            w = float(_magnify_weight(np.asarray(qr - hr), np.asarray(qc - hc)))
            f = 1.0 + (acq.magnification - 1.0) * w
            qr, qc = hr + (row - hr) * f, hc + (col - hc) * f
        row, col = qr, qc
    step, centre_r, centre_c = _pose(acq, size, apex_row)
    d_row, d_col = row - centre_r, col - centre_c
    a = np.radians(acq.rotation_deg)
    yy = np.cos(a) * d_row + np.sin(a) * d_col
    xx = -np.sin(a) * d_row + np.cos(a) * d_col
    return float(yy / step + (size - 1) / 2), float(xx / step + (size - 1) / 2)


def _extend(projection: np.ndarray, shoulder_px: float) -> np.ndarray:
    """The projection with a neck and shoulders above it (the body narrowing to the neck, air beside it)
    and the bottom edge continued, instead of the edge rows smeared outward with their bones."""
    top = ndimage.gaussian_filter1d(projection[:6].mean(axis=0), 10.0)
    body = np.nonzero(top > 0.3 * top.max())[0]
    centre = float(body.mean()) if body.size else projection.shape[1] / 2
    half = (body.max() - body.min()) / 2 if body.size else projection.shape[1] / 4
    h = np.arange(TOP_PAD, 0, -1, dtype=np.float32)[:, None]  # distance above the CT's top row
    half_width = half * (1.0 - 0.6 * np.clip(h / shoulder_px, 0, 1))  # shoulders slope down to a ~12 cm neck
    cols = np.arange(projection.shape[1], dtype=np.float32)[None, :]
    pad_top = top[None, :] * (1 / (1 + np.exp(-(half_width - np.abs(cols - centre)) / 6.0)))
    bottom = ndimage.gaussian_filter1d(projection[-6:].mean(axis=0), 8.0)
    return np.concatenate(
        [pad_top.astype(np.float32), projection, np.repeat(bottom[None, :], TOP_PAD, axis=0)], axis=0
    )


def _coverage_limits(
    coverage: np.ndarray | None, rows: np.ndarray, cols: np.ndarray
) -> tuple[int, int, int, int] | None:
    """The film box (top, bottom, left, right) inside the atlas's valid region, when it has one."""
    if coverage is None:
        return None
    valid = ndimage.map_coordinates(coverage.astype(np.float32), [rows, cols], order=0, cval=0.0) > 0.5
    good_rows = np.nonzero(valid.mean(axis=1) > 0.6)[0]
    good_cols = np.nonzero(valid.mean(axis=0) > 0.6)[0]
    if good_rows.size == 0 or good_cols.size == 0:
        return None
    return int(good_rows.min()), int(good_rows.max()), int(good_cols.min()), int(good_cols.max())


def develop(
    projection: np.ndarray,
    acq: Acquisition,
    size: int,
    apex_row: float,
    rng: np.random.Generator,
    coverage: np.ndarray | None = None,
) -> np.ndarray:
    """The film as uint16 (0..4095, bone bright) at size x size.

    ``coverage`` (optional, the projection's shape) marks where the CT is valid; the shutters then keep
    the exposed field inside it. Works for any projection kind: no rule here depends on the patient's side
    except the AP magnification's centre (frontal only) and the marker placement (``markers``).
    """
    rows, cols = sample_grid(acq, size, apex_row)
    extended = _extend(projection, acq.shoulder_px)
    p = ndimage.map_coordinates(extended, [rows + TOP_PAD, cols], order=1, mode="nearest")
    alpha, box = field_alpha(size, acq, _coverage_limits(coverage, rows, cols))
    p = detector.expose(p, acq, rng)
    x = detector.window(p, acq, alpha > 0.5 if alpha is not None else None)
    y = detector.process(x, acq)
    if (lines := detector.grid_pattern(y.shape, acq)) is not None:
        y = y + lines
    if acq.noise > 0:  # electronic noise, the same everywhere
        y = y + acq.noise * rng.standard_normal(y.shape, dtype=np.float32)
    y = shutter(y, alpha, acq, rng)
    y = burn_labels(y, acq, box)
    return np.clip(np.rint(y * MAX_VALUE), 0, MAX_VALUE).astype(np.uint16)


def film_masks(
    masks: dict[str, np.ndarray], acq: Acquisition, size: int, apex_row: float
) -> dict[str, np.ndarray]:
    """Masks on the working grid (already warped with the anatomy) seen through the film's framing and
    pose, as ``develop`` samples the projection: bool [size, size] each. Nothing outside the CT (the
    synthesised neck and the continued bottom rows hold no organ)."""
    rows, cols = sample_grid(acq, size, apex_row)
    return {
        name: ndimage.map_coordinates(m.astype(np.float32), [rows, cols], order=1, cval=0.0) > 0.5
        for name, m in masks.items()
    }


def pixel_spacing_mm(acq: Acquisition, size: int) -> float:
    return FIELD_PX * PIXEL_MM / size / acq.scale
