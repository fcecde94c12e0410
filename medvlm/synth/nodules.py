"""Nodules, masses and calcified granulomas: size, shape, density and margin from ranges per word.

Each spot is a main sphere (its position and diameter are recorded for training), made lobulated by
satellite spheres or spiculated by thin radiating strands; density varies (soft tissue to calcium).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medvlm.synth.atlas import Atlas
from medvlm.synth.grid import GRID_SHAPE, PIXEL_MM
from medvlm.synth.lesions import CALCIUM_MU, LUNG_MU, NODULE_MU, place, sides_of, sphere

# diameter ranges (mm) by label and severity word
DIAMETER_MM = {
    "nodule": {None: (8.0, 25.0), "small": (5.0, 12.0), "large": (20.0, 30.0)},
    "mass": {None: (32.0, 60.0), "small": (30.0, 40.0), "large": (50.0, 75.0)},
    "calcified_granuloma": {None: (3.0, 10.0), "small": (2.5, 5.0), "large": (8.0, 12.0)},
}
SIZE_WORDS = {"mild": "small", "trace": "small", "moderate": None, "severe": "large"}


def _spicules(center: tuple[float, float], r: float, mu: float, rng: np.random.Generator) -> np.ndarray:
    """Thin strands (about 1 mm) radiating 0.3-1.2 radii beyond the surface."""
    out = np.zeros(GRID_SHAPE, np.float32)
    reach = 2.3 * r + 3
    cy, cx = center
    r0, r1 = int(max(cy - reach, 0)), int(min(cy + reach + 1, GRID_SHAPE[0]))
    c0, c1 = int(max(cx - reach, 0)), int(min(cx + reach + 1, GRID_SHAPE[1]))
    if r1 <= r0 or c1 <= c0:
        return out
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float32)
    box = np.zeros(yy.shape, np.float32)
    for _ in range(int(rng.integers(5, 12))):
        a = rng.uniform(0, 2 * np.pi)
        length = r * rng.uniform(1.3, 2.2)
        vy, vx = np.sin(a), np.cos(a)
        t = np.clip((yy - cy) * vy + (xx - cx) * vx, 0, length)
        d = np.hypot(yy - cy - t * vy, xx - cx - t * vx)
        width = rng.uniform(0.6, 1.3)
        box += (
            np.exp(-(d**2) / (2 * width**2)) * (1 - t / length) * width * 2 * PIXEL_MM / 10 * (mu - LUNG_MU)
        )
    out[r0:r1, c0:c1] = box
    return out


def _shape(label: str, mods: frozenset[str], rng: np.random.Generator) -> str:
    for shape in ("spiculated", "lobulated"):
        if shape in mods:
            return shape
    if "well-defined" in mods or label == "calcified_granuloma":
        return "round"
    p = [0.3, 0.45, 0.25] if label == "mass" else [0.55, 0.3, 0.15]
    return str(rng.choice(["round", "lobulated", "spiculated"], p=p))


def nodule_like(
    atlas: Atlas,
    label: str,
    laterality: str | None,
    location: str | None,
    rng: np.random.Generator,
    severity: str | None = None,
    mods: frozenset[str] = frozenset(),
    strength: float = 1.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    delta = np.zeros(GRID_SHAPE, np.float32)
    spots = []
    count = 1 if label == "mass" else int(rng.integers(1, 4 if label == "calcified_granuloma" else 3))
    size_word = SIZE_WORDS.get(severity or "", severity) if severity not in ("small", "large") else severity
    lo, hi = DIAMETER_MM[label].get(size_word, DIAMETER_MM[label][None])
    for side in sides_of(laterality, rng):
        for _ in range(count):
            diam_mm = float(rng.uniform(lo, hi))
            if label == "calcified_granuloma":
                mu = float(rng.uniform(2.0, CALCIUM_MU)) if "calcified" not in mods else CALCIUM_MU
            else:
                mu = LUNG_MU + (NODULE_MU - LUNG_MU) * float(rng.uniform(0.6, 1.15))
            mu = LUNG_MU + (mu - LUNG_MU) * strength
            r = diam_mm / 2 / PIXEL_MM
            cy, cx = place(atlas, side, location, r, rng)
            delta += sphere((cy, cx), r, mu)
            shape = _shape(label, mods, rng)
            if shape == "lobulated":  # satellite spheres bulging out of the main one
                for _ in range(int(rng.integers(2, 6))):
                    a = rng.uniform(0, 2 * np.pi)
                    off = rng.uniform(0.4, 0.75) * r
                    delta += sphere(
                        (cy + off * np.sin(a), cx + off * np.cos(a)), rng.uniform(0.45, 0.7) * r, mu
                    )
            elif shape == "spiculated":
                delta += _spicules((cy, cx), r, mu, rng)
            spots.append(
                {
                    "side": side,
                    "row": round(cy, 1),
                    "col": round(cx, 1),
                    "diameter_mm": round(diam_mm, 1),
                    "shape": shape,
                    "mu": round(mu, 2),
                }
            )
    return delta, {"spots": spots}
