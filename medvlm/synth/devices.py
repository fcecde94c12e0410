"""Lines, tubes and devices drawn along anatomical paths found in the atlas (trachea, SVC, oesophagus).

A wire or tube is a cylinder: its projection is the chord length through it times its density, so a
tube reads as two bright walls with a radiopaque stripe and a wire as one bright line.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medvlm.synth.atlas import Atlas
from medvlm.synth.grid import GRID_SHAPE, PIXEL_MM
from medvlm.synth.lesions import sides_of

METAL_MU = 40.0  # steel vs water at film energies
STRIPE_MU = 15.0  # barium stripe of a tube
PLASTIC_MU = 1.3
DEVICES = (
    "endotracheal tube",
    "central line",
    "pacemaker",
    "enteric tube",
    "chest tube",
    "tracheostomy",
    "implanted device",
)


def _chord(d: np.ndarray, r: float) -> np.ndarray:
    return 2.0 * np.sqrt(np.clip(r * r - d * d, 0, None)) * PIXEL_MM / 10.0


def _polyline_distance(points: np.ndarray, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float32)
    best = np.full(yy.shape, np.inf, np.float32)
    for (ay, ax), (by, bx) in itertools.pairwise(points):
        vy, vx = by - ay, bx - ax
        t = np.clip(((yy - ay) * vy + (xx - ax) * vx) / max(vy * vy + vx * vx, 1e-6), 0, 1)
        best = np.minimum(best, np.hypot(yy - ay - t * vy, xx - ax - t * vx))
    return best


def _smooth_path(points: Sequence[tuple[float, float]], n: int = 60) -> np.ndarray:
    """A Catmull-Rom-like smooth curve through the control points."""
    p = np.asarray(points, dtype=np.float64)
    t = np.concatenate([[0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
    s = np.linspace(0, t[-1], n)
    from scipy.interpolate import CubicSpline

    return np.stack(
        [CubicSpline(t, p[:, 0], bc_type="natural")(s), CubicSpline(t, p[:, 1], bc_type="natural")(s)], 1
    )


def draw_tube(
    points: np.ndarray, radius_mm: float, wall_mm: float, stripe: bool, mu: float = PLASTIC_MU
) -> np.ndarray:
    out = np.zeros(GRID_SHAPE, np.float32)
    r = radius_mm / PIXEL_MM
    pad = int(r + 3)
    r0, r1 = int(max(points[:, 0].min() - pad, 0)), int(min(points[:, 0].max() + pad, GRID_SHAPE[0]))
    c0, c1 = int(max(points[:, 1].min() - pad, 0)), int(min(points[:, 1].max() + pad, GRID_SHAPE[1]))
    if r1 <= r0 or c1 <= c0:
        return out
    d = _polyline_distance(points, r0, r1, c0, c1)
    value = (
        (_chord(d, r) - _chord(d, r - wall_mm / PIXEL_MM)) * mu if wall_mm < radius_mm else _chord(d, r) * mu
    )
    if stripe:
        value = value + _chord(d, 0.7 / PIXEL_MM) * STRIPE_MU
    out[r0:r1, c0:c1] = value
    return out


def _centreline(struct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, mean column) of a structure's projected mask, row by row."""
    rows = np.nonzero(struct.any(axis=1))[0]
    cols = np.array([np.average(np.arange(struct.shape[1]), weights=struct[r]) for r in rows])
    return rows, cols


def _landmarks(atlas: Atlas) -> dict[str, Any]:
    tr_rows, tr_cols = _centreline(atlas["struct_trachea"])
    svc_rows, svc_cols = _centreline(atlas["struct_svc"])
    heart = atlas["struct_heart"] > 0
    h_rows, h_cols = np.nonzero(heart)
    return {
        "trachea": (tr_rows, tr_cols),
        "carina_row": float(tr_rows.max()),
        "svc": (svc_rows, svc_cols),
        "heart_rows": (float(h_rows.min()), float(h_rows.max())),
        "heart_cols": (float(h_cols.min()), float(h_cols.max())),
    }


def _airway_tube(kind: str, lm: dict, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    tr_rows, tr_cols = lm["trachea"]
    tip = lm["carina_row"] - (
        rng.uniform(35, 60) / PIXEL_MM if kind == "endotracheal tube" else rng.uniform(90, 120) / PIXEL_MM
    )
    # The CT shows only ~11 cm of trachea above the carina: a tracheostomy tip drawn higher than that
    # would leave no tube at all, so it is kept at least 2 cm below the top of the visible trachea.
    tip = max(tip, float(tr_rows.min()) + 20 / PIXEL_MM)
    sel = tr_rows <= tip
    pts = np.stack([tr_rows[sel], tr_cols[sel]], 1)[::6]
    pts = np.concatenate([[[0.0, pts[0, 1]]], pts]) if kind == "endotracheal tube" else pts
    delta = draw_tube(pts, 4.5, 1.2, stripe=True)
    if kind == "tracheostomy":  # the flange across the neck
        delta += draw_tube(
            np.array([[pts[0, 0], pts[0, 1] - 30], [pts[0, 0], pts[0, 1] + 30]]), 3.0, 3.0, False
        )
    return delta, {"tip_row": round(float(tip), 1)}


def _enteric_tube(atlas: Atlas) -> tuple[np.ndarray, dict]:
    rows, cols = _centreline(atlas["struct_esophagus"])
    st_rows, st_cols = np.nonzero(atlas["struct_stomach"] > 0)
    path: list[tuple[float, float]] = [(0.0, float(cols[0]))] + [
        (float(r), float(c)) for r, c in zip(rows[::40], cols[::40], strict=True)
    ]
    path += [(float(st_rows.mean()), float(st_cols.mean()))]
    return draw_tube(_smooth_path(path), 2.5, 0.8, stripe=True), {"tip": [round(float(st_rows.mean()), 1)]}


@dataclass(frozen=True)
class _Thorax:
    """Where a line or tube enters: the chosen side's lung rows, its lateral edge, the SVC's ends."""

    side: str
    lung_rows: np.ndarray
    lateral: float
    svc_top: tuple[float, float]
    svc_bottom: tuple[float, float]


def _thorax(atlas: Atlas, lm: dict, kind: str, laterality: str | None, rng: np.random.Generator) -> _Thorax:
    side = sides_of(laterality, rng)[0] if kind in ("central line", "chest tube") else "left"
    l_rows, l_cols = np.nonzero(atlas.lung(side) > 0)
    svc_rows, svc_cols = lm["svc"]
    return _Thorax(
        side=side,
        lung_rows=l_rows,
        lateral=float(l_cols.min() if side == "right" else l_cols.max()),
        svc_top=(float(svc_rows.min()), float(np.median(svc_cols))),
        svc_bottom=(float(svc_rows.max()), float(svc_cols[-1])),
    )


def _chest_tube(t: _Thorax, lm: dict, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    l_rows = t.lung_rows
    base_row = l_rows.min() + 0.7 * np.ptp(l_rows)
    inset = 25.0 if t.side == "right" else -25.0
    path = [
        (base_row + 40, t.lateral - 2 * inset),
        (base_row, t.lateral + inset),
        (l_rows.min() + 0.35 * np.ptp(l_rows), t.lateral + 1.6 * inset),
        (l_rows.min() + 40, t.lateral + 2.8 * inset),
    ]
    return draw_tube(_smooth_path(path), 4.0, 1.0, stripe=True), {"side": t.side}


def _central_line(t: _Thorax, lm: dict, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    entry_col = t.lateral + (60.0 if t.side == "right" else -60.0)
    start = (float(t.lung_rows.min()) - 20, entry_col)
    mid = (t.svc_top[0] - 10, 0.5 * (entry_col + t.svc_top[1]))
    tip = (t.svc_bottom[0] + rng.uniform(-10, 15), t.svc_bottom[1])
    line = draw_tube(_smooth_path([start, mid, t.svc_top, tip]), 1.2, 1.2, stripe=False, mu=METAL_MU * 0.15)
    return line, {
        "side": t.side,
        "tip_row": round(tip[0], 1),
    }


def _valve_ring(t: _Thorax, lm: dict, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A prosthetic valve ring, seen obliquely, over the heart."""
    h0, h1 = lm["heart_rows"]
    c0, c1 = lm["heart_cols"]
    centre = (h0 + rng.uniform(0.3, 0.5) * (h1 - h0), c0 + rng.uniform(0.35, 0.5) * (c1 - c0))
    angle = np.linspace(0, 2 * np.pi, 40)
    a, b, tilt = 13 / PIXEL_MM, rng.uniform(5, 10) / PIXEL_MM, rng.uniform(0, np.pi)
    ring = np.stack(
        [
            centre[0] + a * np.cos(angle) * np.sin(tilt) + b * np.sin(angle) * np.cos(tilt),
            centre[1] + a * np.cos(angle) * np.cos(tilt) - b * np.sin(angle) * np.sin(tilt),
        ],
        1,
    )
    delta = draw_tube(ring, 1.5, 1.5, stripe=False, mu=METAL_MU * 0.5)
    return delta, {"centre": [round(c, 1) for c in centre]}


def _pacemaker(t: _Thorax, lm: dict, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Generator in the left infraclavicular fossa, lead via the veins to the right ventricle apex."""
    gen = (float(t.lung_rows.min()) + rng.uniform(10, 40), t.lateral - rng.uniform(50, 80))
    h0, h1 = lm["heart_rows"]
    c0, c1 = lm["heart_cols"]
    ra = (h0 + 0.55 * (h1 - h0), c0 + 0.3 * (c1 - c0))
    apex = (h0 + 0.85 * (h1 - h0), c0 + 0.7 * (c1 - c0))
    svc_top, svc_bottom = t.svc_top, t.svc_bottom
    lead = _smooth_path([gen, (svc_top[0] - 15, 0.5 * (gen[1] + svc_top[1])), svc_top, svc_bottom, ra, apex])
    delta = draw_tube(lead, 1.0, 1.0, stripe=False, mu=METAL_MU)
    box = np.zeros(GRID_SHAPE, np.float32)
    gh, gw = 30 / PIXEL_MM, 40 / PIXEL_MM
    yy, xx = np.mgrid[: GRID_SHAPE[0], : GRID_SHAPE[1]]
    inside = (((yy - gen[0]) / (gh / 2)) ** 4 + ((xx - gen[1]) / (gw / 2)) ** 4) <= 1.0
    box[inside] = 12.0  # a titanium can, ~12 cm of water
    return delta + box, {"generator": [round(gen[0], 1), round(gen[1], 1)]}


_THORACIC = {"chest tube": _chest_tube, "central line": _central_line, "implanted device": _valve_ring}


def draw_device(
    atlas: Atlas, kind: str, laterality: str | None, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """One device's attenuation delta on the grid and where it was drawn (any other kind: a pacemaker)."""
    lm = _landmarks(atlas)
    if kind in ("endotracheal tube", "tracheostomy"):
        return _airway_tube(kind, lm, rng)
    if kind == "enteric tube":
        return _enteric_tube(atlas)
    return _THORACIC.get(kind, _pacemaker)(_thorax(atlas, lm, kind, laterality, rng), lm, rng)


def ecg_leads(atlas: Atlas, rng: np.random.Generator, p: float = 0.15) -> np.ndarray | None:
    """External ECG electrodes (a snap disc each) with their lead wires trailing off the film, on a
    fraction ``p`` of patients: normal variation, not a support device."""
    if rng.random() >= p:
        return None
    lung = atlas.lung() > 0
    rows, cols = np.nonzero(lung)
    out = np.zeros(GRID_SHAPE, np.float32)
    yy, xx = np.mgrid[: GRID_SHAPE[0], : GRID_SHAPE[1]]
    for _ in range(int(rng.integers(2, 6))):
        cy = float(rng.uniform(rows.min() - 10, rows.max()))
        cx = float(rng.uniform(cols.min(), cols.max()))
        ring = np.abs(np.hypot(yy - cy, xx - cx) - 5 / PIXEL_MM)
        out += np.exp(-(ring**2) / 2.0) * 1.5 + (np.hypot(yy - cy, xx - cx) < 2 / PIXEL_MM) * 6.0
        end = (float(rng.choice([0.0, GRID_SHAPE[0] - 1.0])), cx + float(rng.uniform(-120, 120)))
        mid = (0.5 * (cy + end[0]), 0.5 * (cx + end[1]) + float(rng.uniform(-60, 60)))
        out += draw_tube(_smooth_path([(cy, cx), mid, end]), 0.6, 0.6, stripe=False, mu=METAL_MU * 0.3)
    return out
