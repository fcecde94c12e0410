"""Findings drawn straight onto the film grid as projected attenuation (cm of water).

A sphere projects to its chord length, a lobe filled with fluid to its thickness map times the density
change, so these are exact projections of simple 3-D insertions, with texture varying in the film plane.
Each function returns (delta, where) with ``where`` a short dict recorded as render provenance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from medvlm.synth.atlas import Atlas
from medvlm.synth.grid import GRID_SHAPE, PIXEL_MM

LUNG_MU = 0.15
TISSUE_MU = 1.0
CALCIUM_MU = 6.0
NODULE_MU = 1.15  # a little denser than water, so small nodules stay visible at 128-256 px


def smooth_field(
    rng: np.random.Generator, sigma_px: float, shape: tuple[int, int] = GRID_SHAPE
) -> np.ndarray:
    """A smooth random texture in [0, 1], computed at quarter resolution for speed."""
    small = (shape[0] // 4 + 1, shape[1] // 4 + 1)
    f = ndimage.gaussian_filter(rng.standard_normal(small), sigma_px / 4)
    f = (f - f.min()) / max(float(np.ptp(f)), 1e-6)
    return np.kron(f, np.ones((4, 4)))[: shape[0], : shape[1]].astype(np.float32)


def lobes_for(side: str, location: str | None) -> list[str]:
    """Lobe short names (rul, rml, rll, lul, lll) for a side and an ontology location."""
    right = side == "right"
    table = {
        "upper lobe": ["rul"] if right else ["lul"],
        "middle lobe": ["rml"] if right else ["lul"],
        "lingula": ["rml"] if right else ["lul"],
        "lower lobe": ["rll"] if right else ["lll"],
        "base": ["rll"] if right else ["lll"],
        "retrocardiac": ["rll"] if right else ["lll"],
        "apex": ["rul"] if right else ["lul"],
        "hilum": ["rul", "rll"] if right else ["lul", "lll"],
    }
    return table.get(location or "", ["rul", "rml", "rll"] if right else ["lul", "lll"])


def zone_mask(atlas: Atlas, side: str, location: str | None) -> np.ndarray:
    """Film-grid weight of a side's lung region for a location (lobe thickness, cut to zones)."""
    thick = atlas.total(f"lobe_{n}" for n in lobes_for(side, location))
    lung = atlas.lung(side) > 0
    rows = np.nonzero(lung.any(axis=1))[0]
    top, bottom = rows.min(), rows.max()
    r = np.arange(GRID_SHAPE[0])[:, None]

    def below(fraction: float) -> np.ndarray:  # a soft cut, so no straight edge shows on the film
        return 1.0 / (1.0 + np.exp(-(r - top - fraction * (bottom - top)) / 8.0))

    if location == "apex":
        thick = thick * (1.0 - below(0.3))
    elif location == "base":
        thick = thick * below(0.55)
    elif location == "lingula":
        thick = thick * below(0.45)
    elif location == "hilum":
        cy, cx = hilum(atlas, side)
        yy, xx = np.mgrid[: GRID_SHAPE[0], : GRID_SHAPE[1]]
        thick = thick * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 45.0**2))
    return thick.astype(np.float32)


def hilum(atlas: Atlas, side: str) -> tuple[float, float]:
    """(row, col) of a hilum: medial third of the lung, a little above its mid height."""
    lung = atlas.lung(side) > 0
    rows, cols = np.nonzero(lung)
    row = rows.min() + 0.45 * (rows.max() - rows.min())
    col = cols.max() - 0.2 * np.ptp(cols) if side == "right" else cols.min() + 0.2 * np.ptp(cols)
    return float(row), float(col)


def sides_of(laterality: str | None, rng: np.random.Generator) -> list[str]:
    if laterality == "bilateral":
        return ["right", "left"]
    if laterality in ("left", "right"):
        return [laterality]
    return [str(rng.choice(["right", "left"]))]


def sphere(center: tuple[float, float], radius_px: float, mu: float, shape=GRID_SHAPE) -> np.ndarray:
    """Projected chord length x density change of one sphere, on its bounding box only."""
    out = np.zeros(shape, np.float32)
    cy, cx = center
    r0, r1 = int(max(cy - radius_px - 1, 0)), int(min(cy + radius_px + 2, shape[0]))
    c0, c1 = int(max(cx - radius_px - 1, 0)), int(min(cx + radius_px + 2, shape[1]))
    yy, xx = np.mgrid[r0:r1, c0:c1]
    d2 = (yy - cy) ** 2 + (xx - cx) ** 2
    out[r0:r1, c0:c1] = 2.0 * np.sqrt(np.clip(radius_px**2 - d2, 0, None)) * PIXEL_MM / 10.0 * (mu - LUNG_MU)
    return out


def place(
    atlas: Atlas, side: str, location: str | None, radius_px: float, rng: np.random.Generator
) -> tuple[float, float]:
    """A centre inside the lung zone, deep enough for the sphere, away from heart and diaphragm."""
    weight = zone_mask(atlas, side, location)
    depth_cm = 2 * radius_px * PIXEL_MM / 10.0
    ok = (weight > max(depth_cm + 1.0, 4.0)) & (atlas["struct_heart"] == 0)
    ok = ndimage.binary_erosion(ok, iterations=max(int(radius_px * 0.6), 1))
    ys, xs = np.nonzero(ok)
    if ys.size == 0:
        ys, xs = np.nonzero(weight > 0)
    pick = int(rng.integers(ys.size))
    return float(ys[pick]), float(xs[pick])


def nodule_like(
    atlas: Atlas, label: str, laterality: str | None, location: str | None, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, Any]]:
    delta = np.zeros(GRID_SHAPE, np.float32)
    spots = []
    count = 1 if label == "mass" else int(rng.integers(1, 3))
    for side in sides_of(laterality, rng):
        for _ in range(count):
            if label == "calcified_granuloma":
                diam_mm, mu = rng.uniform(6.0, 10.0), CALCIUM_MU
            elif label == "mass":
                diam_mm, mu = rng.uniform(35.0, 60.0), NODULE_MU
            else:
                diam_mm, mu = rng.uniform(14.0, 28.0), NODULE_MU
            r = diam_mm / 2 / PIXEL_MM
            cy, cx = place(atlas, side, location, r, rng)
            delta += sphere((cy, cx), r, mu)
            if label == "mass":  # lobulated: two satellite spheres
                for _ in range(2):
                    a = rng.uniform(0, 2 * np.pi)
                    delta += sphere((cy + 0.55 * r * np.sin(a), cx + 0.55 * r * np.cos(a)), 0.6 * r, mu)
            spots.append(
                {"side": side, "row": round(cy, 1), "col": round(cx, 1), "diameter_mm": round(diam_mm, 1)}
            )
    return delta, {"spots": spots}


SEVERITY_FRACTION = {None: 0.5, "mild": 0.3, "moderate": 0.5, "severe": 0.75}


def airspace(
    atlas: Atlas,
    label: str,
    laterality: str | None,
    location: str | None,
    severity: str | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Consolidation (dense, lobar), lung opacity (patchy haze) and atelectasis (plate-like band)."""
    delta = np.zeros(GRID_SHAPE, np.float32)
    where = []
    for side in sides_of(laterality, rng):
        loc = location or str(rng.choice(["upper lobe", "lower lobe", "base"]))
        weight = zone_mask(atlas, side, loc)
        tex = smooth_field(rng, 18.0)
        frac = SEVERITY_FRACTION.get(severity, 0.5)
        if label == "consolidation":
            dmu: np.ndarray = (TISSUE_MU - LUNG_MU) * rng.uniform(0.8, 0.95) * (0.75 + 0.25 * tex)
        elif label == "lung_opacity":
            dmu = (TISSUE_MU - LUNG_MU) * (0.3 + frac) * np.clip(1.6 * tex - 0.2, 0, 1)
        else:  # atelectasis: plate-like streaks in the lower zone, plus diffuse volume loss for higher grades
            rows, cols = np.nonzero(weight > 1.0)
            yy, xx = np.mgrid[: GRID_SHAPE[0], : GRID_SHAPE[1]]
            plates = np.zeros(GRID_SHAPE, np.float32)
            for _ in range(int(rng.integers(1, 3))):
                line = rows.min() + rng.uniform(0.55, 0.85) * np.ptp(rows)
                centre = rng.uniform(np.percentile(cols, 25), np.percentile(cols, 75))
                tilt = np.tan(np.radians(rng.uniform(-15, 15)))
                across = np.exp(-((yy - line - tilt * (xx - centre)) ** 2) / (2 * rng.uniform(4, 7) ** 2))
                plates += across * np.exp(-((xx - centre) ** 2) / (2 * (0.3 * np.ptp(cols)) ** 2))
            diffuse = 0.35 * frac * (severity in ("moderate", "severe"))
            dmu = (TISSUE_MU - LUNG_MU) * (0.6 * np.clip(plates, 0, 1) + diffuse)
        delta += (weight * dmu).astype(np.float32)
        where.append({"side": side, "location": loc})
    return delta, {"zones": where}


def edema(atlas: Atlas, severity: str | None, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Bilateral perihilar haze fading to the periphery, heavier at the bases."""
    frac = {None: 0.4, "mild": 0.3, "moderate": 0.42, "severe": 0.55}.get(severity, 0.4)
    yy, xx = np.mgrid[: GRID_SHAPE[0], : GRID_SHAPE[1]]
    delta = np.zeros(GRID_SHAPE, np.float32)
    for side in ("right", "left"):
        cy, cx = hilum(atlas, side)
        w = np.exp(-((yy - cy) ** 2 / (2 * 90.0**2) + (xx - cx) ** 2 / (2 * 60.0**2)))
        delta += (
            atlas.lung(side)
            * (TISSUE_MU - LUNG_MU)
            * frac
            * (0.55 + 0.45 * w)
            * (0.7 + 0.3 * smooth_field(rng, 10))
        )
    return delta.astype(np.float32), {"fraction": frac}
