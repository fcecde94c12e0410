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


def smooth_path(points: Sequence[tuple[float, float]], n: int = 60) -> np.ndarray:
    """A Catmull-Rom-like smooth curve through the control points (a point repeating the one before it
    is dropped: a path that starts where a centreline starts has one, and the spline needs distinct
    arc-length knots)."""
    p = np.asarray(points, dtype=np.float64)
    p = p[np.concatenate([[True], np.hypot(*np.diff(p, axis=0).T) > 1e-6])]
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


ETT_POSITIONS = {"normal": 0.8, "high": 0.08, "low": 0.06, "right main bronchus": 0.06}


def _airway_tube(kind: str, lm: dict, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """ETT tip 3-7 cm above the carina, sometimes malpositioned (high, at the carina, in the right main
    bronchus); a tracheostomy tip 9-12 cm above it."""
    tr_rows, tr_cols = lm["trachea"]
    position = "normal"
    if kind == "endotracheal tube":
        position = str(rng.choice(list(ETT_POSITIONS), p=list(ETT_POSITIONS.values())))
        above_mm = {"normal": (30, 70), "high": (80, 100), "low": (5, 15), "right main bronchus": (0, 1)}
        tip = lm["carina_row"] - rng.uniform(*above_mm[position]) / PIXEL_MM
    else:
        tip = lm["carina_row"] - rng.uniform(90, 120) / PIXEL_MM
    # The CT shows only ~11 cm of trachea above the carina: a tracheostomy tip drawn higher than that
    # would leave no tube at all, so it is kept at least 2 cm below the top of the visible trachea.
    tip = max(tip, float(tr_rows.min()) + rng.uniform(20, 35) / PIXEL_MM)
    sel = tr_rows <= tip
    pts = np.stack([tr_rows[sel], tr_cols[sel]], 1)[::6].astype(np.float64)
    if kind == "endotracheal tube":
        pts = np.concatenate([[[0.0, pts[0, 1]]], pts])
    if position == "right main bronchus":  # on down the steeper right bronchus (film left)
        last = pts[-1]
        depth = rng.uniform(15, 30) / PIXEL_MM
        pts = np.concatenate([pts, [[last[0] + depth, last[1] - 0.5 * depth]]])
    delta = draw_tube(pts, 4.5, 1.2, stripe=True)
    if kind == "tracheostomy":  # the flange across the neck
        delta += draw_tube(
            np.array([[pts[0, 0], pts[0, 1] - 30], [pts[0, 0], pts[0, 1] + 30]]), 3.0, 3.0, False
        )
    return delta, {"tip_row": round(float(pts[-1, 0]), 1), "variant": position}


def _enteric_tube(atlas: Atlas, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A nasogastric tube down the oesophagus: into the stomach, or short (tip in the oesophagus), or
    coiled in the upper oesophagus."""
    rows, cols = _centreline(atlas["struct_esophagus"])
    st_rows, st_cols = np.nonzero(atlas["struct_stomach"] > 0)
    variant = str(rng.choice(["stomach", "oesophagus", "coiled"], p=[0.8, 0.1, 0.1]))
    path: list[tuple[float, float]] = [(0.0, float(cols[0]))]
    if variant == "coiled":  # a loop or two in the upper oesophagus, the tip pointing back up
        r0, c0 = float(rows[len(rows) // 4]), float(cols[len(cols) // 4])
        loop = rng.uniform(10, 16) / PIXEL_MM
        for a in np.linspace(0, 2 * np.pi * rng.uniform(1.2, 2.0), 14):
            path.append((r0 + loop * (1 - np.cos(a)), c0 + loop * np.sin(a)))
        tip = path[-1]
    else:
        end = len(rows) if variant == "stomach" else int(len(rows) * rng.uniform(0.6, 0.85))
        path += [(float(r), float(c)) for r, c in zip(rows[:end:40], cols[:end:40], strict=True)]
        jitter = rng.uniform(-15, 15, 2)
        tip = (
            (float(st_rows.mean() + jitter[0]), float(st_cols.mean() + jitter[1]))
            if variant == "stomach"
            else (float(rows[end - 1]), float(cols[end - 1]))
        )
        path.append(tip)
    pts = smooth_path(path, n=120)
    return draw_tube(pts, 2.5, 0.8, stripe=True), {
        "tip": [round(tip[0], 1), round(tip[1], 1)],
        "variant": variant,
    }


@dataclass(frozen=True)
class _Thorax:
    """Where a line or tube enters: the chosen side's lung rows, its lateral edge, the SVC's ends."""

    side: str
    lung_rows: np.ndarray
    lateral: float
    svc_top: tuple[float, float]
    svc_bottom: tuple[float, float]


def _thorax(atlas: Atlas, lm: dict, kind: str, laterality: str | None, rng: np.random.Generator) -> _Thorax:
    side = (
        sides_of(laterality, rng)[0]
        if kind in ("central line", "chest tube")
        else str(rng.choice(["left", "right"], p=[0.85, 0.15]))  # a generator is usually on the left
    )
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
    """A large-bore drain entering laterally and running to the apex or along the base, or a pigtail."""
    l_rows = t.lung_rows
    base_row = l_rows.min() + rng.uniform(0.6, 0.8) * np.ptp(l_rows)
    inset = (25.0 if t.side == "right" else -25.0) * rng.uniform(0.7, 1.3)
    variant = str(rng.choice(["apical", "basal", "pigtail"], p=[0.6, 0.2, 0.2]))
    path = [(base_row + 40, t.lateral - 2 * inset), (base_row, t.lateral + inset)]
    if variant == "basal":
        path += [(base_row + 15, t.lateral + 3 * inset), (base_row + 25, t.lateral + 4.5 * inset)]
    else:
        path += [
            (l_rows.min() + 0.35 * np.ptp(l_rows), t.lateral + 1.6 * inset),
            (l_rows.min() + rng.uniform(30, 80), t.lateral + 2.8 * inset),
        ]
    pts = smooth_path(path)
    if variant == "pigtail":  # thin catheter ending in a curl
        tip = pts[-1]
        a = np.linspace(0, 1.8 * np.pi, 24)
        curl = np.stack([tip[0] + 9 * (1 - np.cos(a)), tip[1] + 9 * np.sin(a)], 1)
        return draw_tube(np.concatenate([pts, curl]), 1.5, 0.5, stripe=True), {
            "side": t.side,
            "variant": variant,
            "tip": [round(float(v), 1) for v in curl[-1]],
        }
    tip_info = [round(float(v), 1) for v in pts[-1]]
    return draw_tube(pts, 4.0, 1.0, stripe=True), {"side": t.side, "variant": variant, "tip": tip_info}


LINE_ROUTES = ("subclavian", "internal jugular", "picc", "port")
LINE_TIPS = {"svc": (-0.6, -0.2), "cavoatrial junction": (-0.05, 0.08), "right atrium": (0.15, 0.4)}


def _central_line(t: _Thorax, lm: dict, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A venous line by subclavian, internal jugular, PICC (from the arm) or port (a reservoir on the
    chest wall), its tip in the SVC, at the cavoatrial junction or in the right atrium."""
    route = str(rng.choice(LINE_ROUTES, p=[0.3, 0.35, 0.25, 0.1]))
    tip_at = str(rng.choice(list(LINE_TIPS), p=[0.45, 0.35, 0.2]))
    svc_len = t.svc_bottom[0] - t.svc_top[0]
    tip = (t.svc_bottom[0] + rng.uniform(*LINE_TIPS[tip_at]) * svc_len, t.svc_bottom[1] + rng.uniform(-4, 6))
    inward = 1.0 if t.side == "right" else -1.0  # film direction from this side's chest wall to the midline
    top = float(t.lung_rows.min())
    radius, mu = 1.2, METAL_MU * 0.15
    extra = np.zeros(GRID_SHAPE, np.float32)
    if route == "internal jugular":  # down the neck beside the trachea, into the brachiocephalic vein
        neck_col = t.svc_top[1] - inward * rng.uniform(10, 25) * (1.0 if t.side == "right" else 3.0)
        path = [(0.0, neck_col), (top - 10, neck_col), t.svc_top, tip]
    elif route == "picc":  # from the arm along the axilla: a long thin line
        entry = (top + rng.uniform(20, 60), t.lateral - inward * 90.0)
        path = [
            entry,
            (top - 10, t.lateral - inward * 20.0),
            (t.svc_top[0] - 10, 0.5 * (t.lateral + t.svc_top[1])),
            t.svc_top,
            tip,
        ]
        radius = 0.8
    else:
        entry_col = t.lateral - inward * (-60.0 if route == "subclavian" else -45.0)
        start = (top - 20 if route == "subclavian" else top + rng.uniform(20, 50), entry_col)
        path = [start, (t.svc_top[0] - 10, 0.5 * (entry_col + t.svc_top[1])), t.svc_top, tip]
        if route == "port":  # a reservoir disc (~3 cm) on the chest wall at the catheter's start
            yy, xx = np.mgrid[: GRID_SHAPE[0], : GRID_SHAPE[1]]
            d = np.hypot(yy - start[0], xx - start[1]) * PIXEL_MM
            extra = np.where(d < 14, 4.0, 0.0).astype(np.float32) + np.where(np.abs(d - 14) < 1.0, 6.0, 0.0)
    line = draw_tube(smooth_path(path), radius, radius, stripe=False, mu=mu)
    return line + extra, {
        "side": t.side,
        "variant": route,
        "tip": tip_at,
        "tip_row": round(float(tip[0]), 1),
    }


def _sternotomy(lm: dict, rng: np.random.Generator) -> np.ndarray:
    """Five to seven twisted wire loops down the sternum (median sternotomy)."""
    out = np.zeros(GRID_SHAPE, np.float32)
    h0, h1 = lm["heart_rows"]
    col = float(np.median(lm["trachea"][1])) + rng.uniform(-6, 6)
    n = int(rng.integers(5, 8))
    for r in np.linspace(h0 - 50, h0 + 0.65 * (h1 - h0), n):
        a = np.linspace(0, 2 * np.pi, 20)
        w, h = rng.uniform(8, 12) / PIXEL_MM, rng.uniform(2, 4) / PIXEL_MM
        loop = np.stack([r + h * np.sin(a) + rng.uniform(-2, 2), col + w * np.cos(a)], 1)
        out += draw_tube(loop, 0.7, 0.7, stripe=False, mu=METAL_MU)
        out += draw_tube(np.array([[r, col + w], [r + 4, col + w + 3]]), 0.9, 0.9, stripe=False, mu=METAL_MU)
    return out


def _clips(lm: dict, rng: np.random.Generator, n: int) -> np.ndarray:
    """Surgical clips: short metal bars (about 5 mm) along a graft or in the mediastinum."""
    out = np.zeros(GRID_SHAPE, np.float32)
    h0, h1 = lm["heart_rows"]
    c0, c1 = lm["heart_cols"]
    for _ in range(n):
        r, c = rng.uniform(h0 - 30, h0 + 0.6 * (h1 - h0)), rng.uniform(c0, c0 + 0.7 * (c1 - c0))
        a = rng.uniform(0, np.pi)
        half = 2.5 / PIXEL_MM
        bar = np.array(
            [[r - half * np.sin(a), c - half * np.cos(a)], [r + half * np.sin(a), c + half * np.cos(a)]]
        )
        out += draw_tube(bar, 0.6, 0.6, stripe=False, mu=METAL_MU)
    return out


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
    wires = rng.random() < 0.85  # a valve replacement comes through a sternotomy
    clips = int(rng.integers(0, 6)) if wires else 0
    if wires:
        delta = delta + _sternotomy(lm, rng)
    if clips:
        delta = delta + _clips(lm, rng, clips)
    return delta, {
        "centre": [round(c, 1) for c in centre],
        "variant": "valve"
        + (" + sternotomy wires" if wires else "")
        + (f" + {clips} clips" if clips else ""),
    }


def _pacemaker(t: _Thorax, lm: dict, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A pacemaker or ICD generator in an infraclavicular fossa with one to three leads via the SVC to
    the right atrium, right ventricular apex and (biventricular) a lateral coronary vein; an ICD's right
    ventricular lead carries a thick shock coil. Or a loop recorder: a small device and no lead."""
    variant = str(rng.choice(["pacemaker", "icd", "loop recorder"], p=[0.6, 0.32, 0.08]))
    inward = 1.0 if t.side == "right" else -1.0
    gen = (float(t.lung_rows.min()) + rng.uniform(10, 40), t.lateral + inward * rng.uniform(50, 80))
    h0, h1 = lm["heart_rows"]
    c0, c1 = lm["heart_cols"]
    yy, xx = np.mgrid[: GRID_SHAPE[0], : GRID_SHAPE[1]]
    if variant == "loop recorder":
        centre = (h0 + rng.uniform(-0.1, 0.3) * (h1 - h0), c0 + rng.uniform(0.5, 0.9) * (c1 - c0))
        inside = (np.abs(yy - centre[0]) < 4 / PIXEL_MM) & (np.abs(xx - centre[1]) < 22 / PIXEL_MM)
        return (inside * 6.0).astype(np.float32), {
            "variant": variant,
            "generator": [round(c, 1) for c in centre],
        }
    targets = {
        "ra": (h0 + rng.uniform(0.1, 0.3) * (h1 - h0), c0 + rng.uniform(0.15, 0.3) * (c1 - c0)),
        "rv": (h0 + rng.uniform(0.75, 0.9) * (h1 - h0), c0 + rng.uniform(0.55, 0.75) * (c1 - c0)),
        "lv": (h0 + rng.uniform(0.45, 0.7) * (h1 - h0), c0 + rng.uniform(0.85, 0.98) * (c1 - c0)),
    }
    n_leads = int(rng.choice([1, 2, 3], p=[0.3, 0.5, 0.2]))
    chosen = ["rv", "ra", "lv"][:n_leads]
    svc_top, svc_bottom = t.svc_top, t.svc_bottom
    delta = np.zeros(GRID_SHAPE, np.float32)
    for lead in chosen:
        end = targets[lead]
        via = [svc_bottom, (svc_bottom[0] + 15, svc_bottom[1] + 10)] if lead != "ra" else [svc_bottom]
        path = smooth_path([gen, (svc_top[0] - 15, 0.5 * (gen[1] + svc_top[1])), svc_top, *via, end])
        delta += draw_tube(path, 1.0, 1.0, stripe=False, mu=METAL_MU)
        if variant == "icd" and lead == "rv":  # the shock coil: the last ~5 cm, thick and dense
            coil = path[int(0.78 * len(path)) :]
            delta += draw_tube(coil, 2.2, 2.2, stripe=False, mu=METAL_MU * 0.5)
    gh, gw = rng.uniform(26, 34) / PIXEL_MM, rng.uniform(36, 48) / PIXEL_MM
    if variant == "icd":
        gh, gw = gh * 1.3, gw * 1.2
    inside = (((yy - gen[0]) / (gh / 2)) ** 4 + ((xx - gen[1]) / (gw / 2)) ** 4) <= 1.0
    box = (inside * 12.0).astype(np.float32)  # a titanium can, ~12 cm of water
    return delta + box, {
        "variant": variant,
        "leads": chosen,
        "side": t.side,
        "generator": [round(gen[0], 1), round(gen[1], 1)],
    }


_THORACIC = {"chest tube": _chest_tube, "central line": _central_line, "implanted device": _valve_ring}


def draw_device(
    atlas: Atlas, kind: str, laterality: str | None, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """One device's attenuation delta on the grid and where it was drawn (any other kind: a pacemaker)."""
    lm = _landmarks(atlas)
    if kind in ("endotracheal tube", "tracheostomy"):
        return _airway_tube(kind, lm, rng)
    if kind == "enteric tube":
        return _enteric_tube(atlas, rng)
    return _THORACIC.get(kind, _pacemaker)(_thorax(atlas, lm, kind, laterality, rng), lm, rng)
