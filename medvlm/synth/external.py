"""Objects on the patient that are not findings: external ECG electrodes and their lead wires.

Real films often show them unreported; drawing them on some films of every label keeps a model from
reading "wire" as "support device".
"""

from __future__ import annotations

import numpy as np

from medvlm.synth.atlas import Atlas
from medvlm.synth.devices import METAL_MU, draw_tube, smooth_path
from medvlm.synth.grid import GRID_SHAPE, PIXEL_MM


def ecg_leads(atlas: Atlas, rng: np.random.Generator, p: float = 0.15) -> np.ndarray | None:
    """External ECG electrodes (a snap disc each) with their lead wires trailing off the film, on a
    fraction ``p`` of patients: normal variation, not a support device."""
    if rng.random() >= p:
        return None
    lung = atlas.lung() > 0
    rows, cols = np.nonzero(lung)
    out = np.zeros(GRID_SHAPE, np.float32)
    half = int(7 / PIXEL_MM) + 2
    for _ in range(int(rng.integers(2, 6))):
        cy = float(rng.uniform(rows.min() - 10, rows.max()))
        cx = float(rng.uniform(cols.min(), cols.max()))
        r0, c0 = max(int(cy) - half, 0), max(int(cx) - half, 0)
        yy, xx = np.mgrid[r0 : int(cy) + half, c0 : int(cx) + half]
        d = np.hypot(yy - cy, xx - cx)
        disc = np.exp(-((d - 5 / PIXEL_MM) ** 2) / 2.0) * 1.5 + (d < 2 / PIXEL_MM) * 6.0
        out[r0 : r0 + disc.shape[0], c0 : c0 + disc.shape[1]] += disc[
            : GRID_SHAPE[0] - r0, : GRID_SHAPE[1] - c0
        ]
        end = (float(rng.choice([0.0, GRID_SHAPE[0] - 1.0])), cx + float(rng.uniform(-120, 120)))
        mid = (0.5 * (cy + end[0]), 0.5 * (cx + end[1]) + float(rng.uniform(-60, 60)))
        out += draw_tube(smooth_path([(cy, cx), mid, end]), 0.6, 0.6, stripe=False, mu=METAL_MU * 0.3)
    return out
