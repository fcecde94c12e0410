"""Per-patient anatomy: one smooth deformation of the film grid plus a few soft-tissue terms.

Every synthetic film comes from the same CT, so without this every normal film shares one heart, one
thorax and one diaphragm and a classifier learns the atlas instead of the finding. Projections add, so the
summed projection (base + every finding delta) is warped once by one smooth field: findings, devices and
recorded spot positions all move with the anatomy. The field is built from landmarks of the atlas (lungs,
heart, trachea) and evaluated on a coarse grid, then interpolated (a film must stay ~10 ms of warp).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy import ndimage

from medvlm.synth.atlas import Atlas
from medvlm.synth.errors import SynthError
from medvlm.synth.grid import GRID_SHAPE, PIXEL_MM

NORMAL_CTR = (0.38, 0.50)  # a normal heart's CTR on a PA film, as drawn here
COARSE = 8  # the field is computed every COARSE grid pixels
WALL = 1.04  # the chest wall, in half lung widths from the lungs' centre (the lungs reach ~1.0)
BOTTOM_PAD = 64


@dataclass(frozen=True)
class Anatomy:
    """One synthetic patient's habitus. The default is the atlas patient as it is (identity warp)."""

    thorax_width: float = 1.0  # horizontal scale of the whole chest about the midline
    soft_tissue_cm: float = 0.0  # extra soft tissue (cm of water) over the body, more at the chest wall
    heart_scale: float = 1.0  # heart region scaled about its centre (fine-tunes the CTR)
    heart_left: float = 1.0  # left heart border's extra scale (ventricle shape), 1 = symmetric
    mediastinum: float = 1.0  # upper mediastinal width factor
    shift_px: float = 0.0  # heart and mediastinum shifted sideways against the spine (rotation)
    heart_shift_px: float = 0.0  # the heart alone sideways (its axis; pectus): rows of the film differ
    hila: float = 1.0  # hilar vessel prominence
    diaphragm_right_mm: float = 0.0  # dome raised (+) or lowered (-)
    diaphragm_left_mm: float = 0.0
    inspiration: float = 1.0  # vertical stretch of the lungs below the apices
    vessels: float = 1.0  # lung vessel prominence (scale of the lungs' own attenuation)
    breasts_cm: float = 0.0  # breast shadow thickness (0: none)
    costophrenic: float = 0.0  # how much the lateral sulci are blunted/rounded by the diaphragm bump
    target_ctr: float | None = None  # the CTR asked for (the drawn one is measured and recorded)

    @classmethod
    def sample(cls, rng: np.random.Generator, target_ctr: float | None = None) -> Anatomy:
        """A random patient; ``target_ctr`` None draws a normal heart (CTR in NORMAL_CTR). The normal CTR is
        drawn either way, so a given rng gives the same habitus with or without an enlarged heart."""
        normal_ctr = float(np.clip(rng.normal(0.455, 0.03), *NORMAL_CTR))
        target_ctr = normal_ctr if target_ctr is None else target_ctr
        right = float(rng.normal(8.0, 7.0))  # the right dome usually sits higher
        return cls(
            thorax_width=float(rng.uniform(0.88, 1.12)),
            soft_tissue_cm=float(rng.uniform(-1.5, 3.5)),
            heart_scale=1.0,  # set by fit_heart
            heart_left=float(rng.uniform(0.94, 1.06)),
            mediastinum=float(rng.uniform(0.85, 1.25)),
            shift_px=float(np.clip(rng.normal(0.0, 12.0), -30.0, 30.0)),
            heart_shift_px=float(np.clip(rng.normal(0.0, 12.0), -25.0, 25.0)),
            hila=float(rng.uniform(0.7, 1.6)),
            diaphragm_right_mm=right,
            diaphragm_left_mm=float(rng.normal(0.0, 7.0)),
            inspiration=float(rng.uniform(0.88, 1.14)),
            vessels=float(rng.uniform(0.7, 1.5)),
            breasts_cm=float(rng.uniform(1.0, 3.0)) if rng.random() < 0.4 else 0.0,
            costophrenic=float(rng.uniform(0.0, 1.0)),
            target_ctr=target_ctr,
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


NEUTRAL = Anatomy()


def is_neutral(anatomy: Anatomy) -> bool:
    """No deformation and no added tissue (the target CTR alone changes nothing)."""
    return replace(anatomy, target_ctr=None, heart_scale=1.0) == NEUTRAL and anatomy.heart_scale == 1.0


@dataclass(frozen=True)
class _Landmarks:
    apex_row: float
    base_row: float
    mid_col: float  # centre of the lungs
    trachea_col: float
    half_width: float  # half the lungs' width
    heart_top: float
    body: np.ndarray  # smoothed body mask [0, 1]
    lateral: np.ndarray  # 0 at the midline, 1 at the chest wall
    hilar: np.ndarray  # weight of the two hila (Gaussians about each hilum)


_CACHE: dict[int, tuple[np.ndarray, _Landmarks]] = {}


def landmarks(atlas: Atlas) -> _Landmarks:
    """Atlas landmarks, computed once per atlas (keyed on its base array's identity)."""
    base = atlas["base"]
    hit = _CACHE.get(id(base))
    if hit is not None and hit[0] is base:
        return hit[1]
    lung = atlas.lung() > 0
    rows, cols = np.nonzero(lung)
    mid = float(cols.min() + cols.max()) / 2
    half = float(cols.max() - cols.min()) / 2
    tr = atlas["struct_trachea"]
    tr_col = float(np.average(np.nonzero(tr)[1], weights=tr[tr > 0]))
    body = ndimage.gaussian_filter((base > 2.0).astype(np.float32), 6.0)
    lateral = np.clip(np.abs(np.arange(GRID_SHAPE[1]) - mid) / (half * 1.15), 0, 1)[None, :] ** 2
    heart_rows = np.nonzero((atlas["struct_heart"] > 0).any(axis=1))[0]
    yy, xx = np.mgrid[: GRID_SHAPE[0], : GRID_SHAPE[1]].astype(np.float32)
    hilar = np.zeros(GRID_SHAPE, np.float32)
    for side in ("right", "left"):
        s_rows, s_cols = np.nonzero(atlas.lung(side) > 0)
        hr = s_rows.min() + 0.45 * np.ptp(s_rows)
        hc = s_cols.max() - 0.2 * np.ptp(s_cols) if side == "right" else s_cols.min() + 0.2 * np.ptp(s_cols)
        hilar += np.exp(-((yy - hr) ** 2 / (2 * 60.0**2) + (xx - hc) ** 2 / (2 * 40.0**2)))
    lm = _Landmarks(
        apex_row=float(rows.min()),
        base_row=float(rows.max()),
        mid_col=mid,
        trachea_col=tr_col,
        half_width=half,
        heart_top=float(heart_rows.min()),
        body=body,
        lateral=np.broadcast_to(lateral, GRID_SHAPE).astype(np.float32),
        hilar=hilar * (atlas.lung() > 0),
    )
    if len(_CACHE) > 4:
        _CACHE.clear()
    _CACHE[id(base)] = (base, lm)
    return lm


def soft_tissue(atlas: Atlas, anatomy: Anatomy) -> np.ndarray | None:
    """Attenuation added by habitus (soft tissue, breasts) and vessel prominence, before the warp."""
    if (
        anatomy.soft_tissue_cm == 0
        and anatomy.breasts_cm == 0
        and anatomy.vessels == anatomy.inspiration
        and anatomy.hila == 1.0
        and anatomy.heart_scale == 1.0
    ):
        return None
    lm = landmarks(atlas)
    out = (anatomy.soft_tissue_cm * lm.body * (0.6 + 0.4 * lm.lateral)).astype(np.float32)
    # vessel prominence, and the same lung mass in less height on a shallow breath (denser, crowded)
    out += np.float32(anatomy.vessels / anatomy.inspiration - 1.0) * atlas["lung_mu"]
    if anatomy.hila != 1.0:
        out += np.float32(anatomy.hila - 1.0) * atlas["lung_mu"] * lm.hilar
    # a heart scaled across is scaled front to back too: its shadow is denser (heart displaces lung)
    out += np.float32((anatomy.heart_scale - 1.0) * (1.0 - 0.15)) * atlas["struct_heart"]
    if anatomy.breasts_cm > 0:
        yy, xx = np.mgrid[: GRID_SHAPE[0], : GRID_SHAPE[1]].astype(np.float32)
        height = lm.base_row - lm.apex_row
        cy = lm.apex_row + 0.62 * height
        for sign in (-1.0, 1.0):
            cx = lm.mid_col + sign * 0.55 * lm.half_width
            d2 = ((yy - cy) / (0.4 * height)) ** 2 + ((xx - cx) / (0.6 * lm.half_width)) ** 2
            # a hemisphere hanging below its centre line: its lower edge is sharp, its top fades
            fade = 1.0 / (1.0 + np.exp(-(yy - cy + 0.15 * height) / 12.0))
            out += anatomy.breasts_cm * np.sqrt(np.clip(1 - d2, 0, None)) * fade
    return out


class Warp:
    """Source grid position of every output grid pixel; ``apply`` resamples a map, ``point`` moves a
    source point to where it lands. Identity when the anatomy is neutral."""

    def __init__(self, rows: np.ndarray | None, cols: np.ndarray | None) -> None:
        self.rows, self.cols = rows, cols

    @property
    def identity(self) -> bool:
        return self.rows is None

    def apply(self, image: np.ndarray) -> np.ndarray:
        if self.rows is None or self.cols is None:
            return image
        # A shallow breath or a raised dome reads below the CT's last slice: continue it with a blurred
        # copy of the bottom rows (as develop does), not the last row smeared into vertical streaks.
        bottom = ndimage.gaussian_filter1d(image[-6:].mean(axis=0), 8.0)
        padded = np.concatenate([image, np.repeat(bottom[None, :], BOTTOM_PAD, axis=0)], axis=0)
        out = ndimage.map_coordinates(padded, [self.rows, self.cols], order=1, mode="nearest")
        return out.astype(np.float32)

    def point(self, row: float, col: float) -> tuple[float, float]:
        """Output (row, col) showing source point (row, col): the field inverted by fixed-point steps."""
        if self.rows is None or self.cols is None:
            return row, col
        r, c = row, col
        for _ in range(12):
            sr, sc = (
                float(ndimage.map_coordinates(m, [[r], [c]], order=1, mode="nearest")[0])
                for m in (self.rows, self.cols)
            )
            r, c = r + (row - sr), c + (col - sc)
        return r, c

    def local_scale(self, row: float, col: float) -> float:
        """How much a small spot at output (row, col) is magnified (sqrt of the Jacobian's inverse)."""
        if self.rows is None or self.cols is None:
            return 1.0
        r, c = int(np.clip(round(row), 1, GRID_SHAPE[0] - 2)), int(np.clip(round(col), 1, GRID_SHAPE[1] - 2))
        drr = (self.rows[r + 1, c] - self.rows[r - 1, c]) / 2
        drc = (self.rows[r, c + 1] - self.rows[r, c - 1]) / 2
        dcr = (self.cols[r + 1, c] - self.cols[r - 1, c]) / 2
        dcc = (self.cols[r, c + 1] - self.cols[r, c - 1]) / 2
        det = abs(float(drr * dcc - drc * dcr))
        return 1.0 / np.sqrt(max(det, 1e-3))


def _window(d: np.ndarray, flat: float, edge: float) -> np.ndarray:
    """1 inside ``flat``, a cosine fall to 0 at ``edge`` (a smooth, fold-free local warp weight)."""
    t = np.clip((d - flat) / (edge - flat), 0, 1)
    return 0.5 * (1 + np.cos(np.pi * t))


def _heart_across(x: np.ndarray, half: float, anatomy: Anatomy, wall_right: float,
                  wall_left: float) -> np.ndarray:
    """Source column offset from the heart centre for output offset ``x``: the heart (half width
    ``half``) scaled by its factor on each side (patient right at negative x), then linear to the chest
    wall at ``wall_right`` / ``wall_left`` px, identity beyond. Monotone (fold-free) for any scale: the
    heart border is kept inside the wall, and smoothed so the joins leave no crease."""
    out = x.astype(np.float64).copy()
    for sign, wall, factor in ((-1.0, wall_right, anatomy.heart_scale),
                               (1.0, wall_left, anatomy.heart_scale * anatomy.heart_left)):
        wall = max(wall, 8.0)
        edge = min(half, 0.9 * wall)  # a heart reaching the wall: its border stays inside
        k = min(factor, 0.92 * wall / edge)  # a heart drawn up to the wall, not through it
        t = sign * x
        inside = t <= k * edge
        mapped = np.where(inside, t / k, edge + (t - k * edge) * (wall - edge) / (wall - k * edge))
        side = (t > 0) & (t < wall)
        out = np.where(side, sign * mapped, out)
    # the joins at the border and the wall are kinks: a light smoothing along columns keeps it monotone
    return ndimage.gaussian_filter1d(out, 1.5, axis=1, mode="nearest")


def build_warp(atlas: Atlas, anatomy: Anatomy, heart: tuple[float, float, float, float]) -> Warp:
    """The smooth field for ``anatomy``; ``heart`` = (centre row, centre col, half height, half width) of
    the heart as drawn (with any cardiomegaly), the region the heart scaling acts on."""
    if is_neutral(anatomy):
        return Warp(None, None)
    for name in ("thorax_width", "heart_scale", "heart_left", "mediastinum", "inspiration"):
        value = getattr(anatomy, name)
        if not 0.5 < value < 2.0:
            raise SynthError(f"anatomy {name} must be within 0.5..2.0 (a fold-free warp), got {value}")
    lm = landmarks(atlas)
    n_r, n_c = GRID_SHAPE[0] // COARSE + 2, GRID_SHAPE[1] // COARSE + 2
    r, c = np.mgrid[:n_r, :n_c].astype(np.float64) * COARSE
    # 1. global: thorax width about the midline, inspiration below the apices, diaphragm domes.
    c1 = lm.mid_col + (c - lm.mid_col) / anatomy.thorax_width
    r1 = np.where(r > lm.apex_row, lm.apex_row + (r - lm.apex_row) / anatomy.inspiration, r)
    height = lm.base_row - lm.apex_row
    dome = np.exp(-((r1 - lm.base_row) ** 2) / (2 * (0.28 * height) ** 2))
    left = 1.0 / (1.0 + np.exp(-(c1 - lm.mid_col) / 8.0))  # patient left is film right (high col)
    # a raised dome shows lower source rows higher; costophrenic: the lateral sulci rise less (rounder)
    lat = np.clip(np.abs(c1 - lm.mid_col) / lm.half_width, 0, 1)
    sulcus = 1.0 - 0.5 * anatomy.costophrenic * lat**4
    raise_px = (anatomy.diaphragm_right_mm * (1 - left) + anatomy.diaphragm_left_mm * left) / PIXEL_MM
    r1 = r1 + raise_px * dome * sulcus
    # 2. local, in atlas coordinates: heart scale (and shape), mediastinal width, rotation shift.
    # Across, the heart is scaled about its centre (each side by its own factor) and the lung between its
    # border and the chest wall takes up the difference, so the chest wall and the body outline stay put;
    # a window about the heart alone reached past the wall when a CT heart is wide, and drawing it small
    # pulled the whole body in (black wedges where no body was). Rows scale mildly in the heart's band.
    hr, hc, ah, aw = heart
    d = np.sqrt(((r1 - hr) / ah) ** 2 + ((c1 - hc) / aw) ** 2)
    w = _window(d, 1.25, 2.3)
    ky = 1 + (anatomy.heart_scale - 1) * 0.4
    band = _window(np.abs(r1 - hr) / ah, 1.25, 2.3)  # the heart's rows
    across = _heart_across(c1 - hc, aw, anatomy, hc - (lm.mid_col - WALL * lm.half_width),
                           lm.mid_col + WALL * lm.half_width - hc)
    c2 = c1 + (across - (c1 - hc)) * band
    r2 = r1 - (1 - 1 / ky) * (r1 - hr) * w
    upper = 1.0 / (1.0 + np.exp((r1 - lm.heart_top) / 15.0))  # above the heart
    wm = upper * _window(np.abs(c1 - lm.trachea_col) / 45.0, 0.6, 1.6)
    c2 = c2 - (1 - 1 / anatomy.mediastinum) * (c1 - lm.trachea_col) * wm
    ws = _window(np.abs(c1 - hc) / (0.45 * lm.half_width), 0.5, 1.5)
    c2 = c2 - anatomy.shift_px * ws - anatomy.heart_shift_px * w
    # separable linear upsampling by indexing (a full-grid map_coordinates cost ~10 ms a map; a BLAS
    # product competes for threads on a busy machine)
    return Warp(_upsample(r2), _upsample(c2))


def _upsample(coarse: np.ndarray) -> np.ndarray:
    """The full grid from samples every COARSE pixels, linear along rows and then along columns."""
    out = coarse
    for axis, n_fine in enumerate(GRID_SHAPE):
        x = np.arange(n_fine) / COARSE
        i0 = np.clip(np.floor(x).astype(np.intp), 0, coarse.shape[axis] - 2)
        frac = (x - i0).astype(np.float32)
        lo, hi = np.take(out, i0, axis=axis), np.take(out, i0 + 1, axis=axis)
        shape = (-1, 1) if axis == 0 else (1, -1)
        out = lo + (hi - lo) * frac.reshape(shape)
    return out.astype(np.float32)


def row_extents(mask: np.ndarray) -> np.ndarray:
    """Width (pixels) of each row's span (first to last set pixel; 0 for an empty row)."""
    any_ = mask.any(axis=1)
    first = np.argmax(mask, axis=1)
    last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    return np.where(any_, last - first + 1, 0)


def measure_ctr(heart: np.ndarray, lungs: np.ndarray) -> float:
    """CTR as ``atlas.measure_ctr`` defines it (widest heart row / widest lung row), vectorised."""
    return float(row_extents(heart).max()) / max(float(row_extents(lungs).max()), 1.0)


def heart_box(shadow: np.ndarray) -> tuple[float, float, float, float]:
    rows, cols = np.nonzero(shadow)
    return (
        float(rows.min() + rows.max()) / 2,
        float(cols.min() + cols.max()) / 2,
        float(np.ptp(rows)) / 2,
        float(np.ptp(cols)) / 2,
    )
