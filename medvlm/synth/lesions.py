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


# Share of the named zone an airspace process covers, per severity word (continuous ranges).
EXTENT = {None: (0.3, 0.8), "mild": (0.2, 0.45), "moderate": (0.4, 0.7), "severe": (0.65, 1.0)}


def _soft_patch(
    rng: np.random.Generator, weight: np.ndarray, coverage: float, edge: float, sigma_px: float
) -> np.ndarray:
    """A blob covering about ``coverage`` of the zone; ``edge`` (0.02 sharp .. 0.2 hazy) is its margin."""
    tex = smooth_field(rng, sigma_px)
    inside = weight > 1.0
    if not inside.any():
        return np.zeros(GRID_SHAPE, np.float32)
    thr = float(np.quantile(tex[inside], 1.0 - coverage)) if coverage < 0.999 else -1.0
    return (1.0 / (1.0 + np.exp(-(tex - thr) / edge))).astype(np.float32)


def _margin(mods: frozenset[str], label: str, rng: np.random.Generator) -> float:
    if "well-defined" in mods:
        return float(rng.uniform(0.01, 0.03))
    if "ill-defined" in mods or "subtle" in mods:
        return float(rng.uniform(0.08, 0.2))
    return float(rng.uniform(0.02, 0.06) if label == "consolidation" else rng.uniform(0.04, 0.15))


def airspace(
    atlas: Atlas,
    label: str,
    laterality: str | None,
    location: str | None,
    severity: str | None,
    rng: np.random.Generator,
    mods: frozenset[str] = frozenset(),
    strength: float = 1.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Consolidation (dense), lung opacity (haze) and atelectasis (plate-like bands, volume loss): extent,
    density and margin drawn from ranges per severity and modifier, faded by ``strength``."""
    delta = np.zeros(GRID_SHAPE, np.float32)
    where = []
    lo, hi = EXTENT.get(severity, EXTENT[None])
    volume_loss = {}
    for side in sides_of(laterality, rng):
        loc = location or str(rng.choice(["upper lobe", "lower lobe", "base", "middle lobe", "hilum"]))
        weight = zone_mask(atlas, side, loc)
        coverage = float(rng.uniform(lo, hi))
        edge = _margin(mods, label, rng)
        if label == "consolidation":
            density = rng.uniform(0.8, 1.0) if "dense" in mods else rng.uniform(0.45, 0.9)
            tex = 0.8 + 0.2 * smooth_field(rng, 6.0)  # air bronchograms and uneven filling
            dmu = (TISSUE_MU - LUNG_MU) * density * tex * _soft_patch(rng, weight, coverage, edge, 22.0)
        elif label == "lung_opacity":
            density = rng.uniform(0.15, 0.5)
            dmu = (TISSUE_MU - LUNG_MU) * density * _soft_patch(rng, weight, coverage, edge, 14.0)
        else:
            density = rng.uniform(0.4, 0.8)
            dmu = (TISSUE_MU - LUNG_MU) * density * _plates(atlas, weight, rng, mods)
            if severity in ("moderate", "severe") and "plate-like" not in mods:
                collapse = _soft_patch(rng, weight, coverage * 0.6, edge, 25.0)
                dmu = np.maximum(dmu, (TISSUE_MU - LUNG_MU) * rng.uniform(0.4, 0.8) * collapse)
                volume_loss[side] = float(rng.uniform(5, 12) * (2.0 if severity == "severe" else 1.0))
        delta += (weight * dmu * strength).astype(np.float32)
        where.append(
            {
                "side": side,
                "location": loc,
                "extent": round(coverage, 3),
                "density": round(float(density), 3),
                "margin": round(edge, 3),
            }
        )
    info: dict[str, Any] = {"zones": where}
    if volume_loss:  # the hemidiaphragm rises on the collapsed side (applied by the anatomy warp)
        info["volume_loss_mm"] = {k: round(v, 1) for k, v in volume_loss.items()}
    return delta, info


def _plates(atlas: Atlas, weight: np.ndarray, rng: np.random.Generator, mods: frozenset[str]) -> np.ndarray:
    """One to three plate-like (discoid) bands across the lower zone, varying in tilt and thickness."""
    rows, cols = np.nonzero(weight > 1.0)
    if rows.size == 0:
        return np.zeros(GRID_SHAPE, np.float32)
    r0, r1 = int(rows.min()), int(rows.max()) + 1
    c0, c1 = int(cols.min()), int(cols.max()) + 1
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float32)
    band = np.zeros(yy.shape, np.float32)
    for _ in range(int(rng.integers(1, 4))):
        line = rows.min() + rng.uniform(0.45, 0.9) * np.ptp(rows)
        centre = rng.uniform(np.percentile(cols, 20), np.percentile(cols, 80))
        tilt = np.tan(np.radians(rng.uniform(-20, 20)))
        thick = rng.uniform(2.5, 6.0) if "plate-like" in mods else rng.uniform(3, 9)
        across = np.exp(-((yy - line - tilt * (xx - centre)) ** 2) / (2 * thick**2))
        band += across * np.exp(-((xx - centre) ** 2) / (2 * (rng.uniform(0.15, 0.35) * np.ptp(cols)) ** 2))
    out = np.zeros(GRID_SHAPE, np.float32)
    out[r0:r1, c0:c1] = np.clip(band, 0, 1)
    return out


EDEMA_FRACTION = {None: (0.12, 0.4), "mild": (0.08, 0.25), "moderate": (0.25, 0.42), "severe": (0.4, 0.6)}
EDEMA_PATTERNS = ("perihilar", "basal", "interstitial", "diffuse")


def edema(
    atlas: Atlas,
    severity: str | None,
    rng: np.random.Generator,
    mods: frozenset[str] = frozenset(),
    strength: float = 1.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Oedema: perihilar (bat-wing), basal, interstitial (reticular lines, Kerley B) or diffuse haze; both
    lungs, symmetric or not; vascular congestion at the hila in every pattern."""
    named = [p for p in EDEMA_PATTERNS if p in mods]
    pattern = named[0] if named else str(rng.choice(EDEMA_PATTERNS, p=[0.35, 0.25, 0.25, 0.15]))
    frac = float(rng.uniform(*EDEMA_FRACTION.get(severity, EDEMA_FRACTION[None])))
    asym = "asymmetric" in mods or rng.random() < 0.15
    heavier = str(rng.choice(["right", "left"]))
    yy, xx = np.mgrid[: GRID_SHAPE[0], : GRID_SHAPE[1]].astype(np.float32)
    delta = np.zeros(GRID_SHAPE, np.float32)
    lung_rows = np.nonzero((atlas.lung() > 0).any(axis=1))[0]
    top, height = float(lung_rows.min()), float(np.ptp(lung_rows))
    for side in ("right", "left"):
        cy, cx = hilum(atlas, side)
        side_w = 1.0 if not asym or side == heavier else float(rng.uniform(0.3, 0.7))
        hilar = np.exp(-((yy - cy) ** 2 / (2 * 70.0**2) + (xx - cx) ** 2 / (2 * 50.0**2)))
        if pattern == "perihilar":
            w = 0.25 + 0.75 * hilar
        elif pattern == "basal":
            w = 0.2 + 0.8 / (1.0 + np.exp(-(yy - top - 0.6 * height) / 20.0))
        elif pattern == "interstitial":
            w = 0.35 * _reticular(rng) + 0.1
        else:
            w = np.full(GRID_SHAPE, 0.7, np.float32)
        tex = 0.7 + 0.3 * smooth_field(rng, 10)
        lung = atlas.lung(side)
        delta += lung * (TISSUE_MU - LUNG_MU) * frac * side_w * w * tex
        delta += atlas["lung_mu"] * (atlas.lung(side) > 0) * hilar * rng.uniform(0.2, 0.6) * side_w
        if pattern == "interstitial":
            delta += _kerley_lines(atlas, side, rng) * side_w
    delta *= strength
    return delta.astype(np.float32), {
        "fraction": round(frac, 3),
        "pattern": pattern,
        **({"heavier": heavier} if asym else {}),
    }


def _reticular(rng: np.random.Generator) -> np.ndarray:
    """A fine net of lines: the zero crossings of a band-passed noise field."""
    fine = ndimage.gaussian_filter(
        rng.standard_normal(((GRID_SHAPE[0] + 1) // 2, (GRID_SHAPE[1] + 1) // 2)), 2.0
    )
    net = np.exp(-((fine / (0.25 * fine.std())) ** 2))
    return np.kron(net, np.ones((2, 2)))[: GRID_SHAPE[0], : GRID_SHAPE[1]].astype(np.float32)


def _kerley_lines(atlas: Atlas, side: str, rng: np.random.Generator) -> np.ndarray:
    """Short horizontal septal lines (1-2 cm) reaching the pleura at the lung base."""
    out = np.zeros(GRID_SHAPE, np.float32)
    lung = atlas.lung(side) > 2.0
    rows = np.nonzero(lung.any(axis=1))[0]
    if rows.size == 0:
        return out
    for _ in range(int(rng.integers(4, 10))):
        r = int(rows.min() + rng.uniform(0.65, 0.92) * np.ptp(rows))
        cols = np.nonzero(lung[r])[0]
        if cols.size == 0:
            continue
        length = int(rng.uniform(14, 28) / PIXEL_MM)
        c0 = int(cols.min()) if side == "right" else int(cols.max()) - length
        c0 = max(c0, 0)
        out[max(r - 1, 0) : r + 1, c0 : c0 + length] += rng.uniform(0.4, 0.8)
    return ndimage.gaussian_filter(out, 0.8)
