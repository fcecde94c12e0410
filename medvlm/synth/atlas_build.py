"""Build the atlas maps of one patient CT for every view at once (the volume work is shared)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from scipy import ndimage

from medvlm.synth.atlas import (
    BONE_PREFIXES,
    CARDIO_SCALES,
    EFFUSION_LEVELS_MM,
    LOBES,
    PTX_SCALES,
    SIDES,
    STRUCTURES,
    measure_ctr,
)
from medvlm.synth.ct_sources import PatientCT
from medvlm.synth.grid import CT_SHAPE, SPACING_MM, VIEWS, View, project
from medvlm.synth.inserts3d import EffusionField, Points, cardiomegaly_delta, pneumothorax_delta

FULL = 0.99  # coverage is 0/1 per film pixel; a box edge may not cut through partial pixels


def _longest_run(flags: np.ndarray) -> tuple[int, int] | None:
    best, start = None, None
    for i, f in enumerate([*flags.tolist(), False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            if best is None or i - start > best[1] - best[0] + 1:
                best = (start, i - 1)
            start = None
    return best


def covered_box(coverage: np.ndarray, body: np.ndarray) -> list[int] | None:
    """[row0, row1, col0, col1] (inclusive) of the film region the CT fully covers: the longest run of
    rows whose body columns are all covered, then the longest run of columns covered in all of them."""
    full = coverage >= FULL
    ok_rows = np.array([body[r].any() and full[r][body[r]].mean() > 0.98 for r in range(full.shape[0])])
    rows = _longest_run(ok_rows)
    if rows is None:
        return None
    cols = _longest_run(full[rows[0] : rows[1] + 1].all(axis=0))
    if cols is None:
        return None
    return [rows[0], rows[1], cols[0], cols[1]]


def build_views(
    patient: PatientCT | None = None, views: tuple[View, ...] = VIEWS
) -> tuple[dict[View, dict[str, np.ndarray]], dict[View, dict[str, Any]]]:
    """(maps per view, meta per view) for one patient."""
    from medvlm.synth.patient_volume import load_patient_ct

    ct = load_patient_ct(patient)
    mu, lab, ids = ct.mu, ct.labels, ct.structures

    def mask(names: Iterable[str]) -> np.ndarray:
        return np.isin(lab, [ids[n] for n in names if n in ids])

    lobe_masks = {short: lab == ids[name] for short, name in LOBES.items()}
    lungs = np.zeros_like(lobe_masks["rul"])
    for m in lobe_masks.values():
        lungs |= m
    heart = mask(STRUCTURES["heart"])
    bone = np.isin(lab, [v for n, v in ids.items() if n.startswith(BONE_PREFIXES)])
    # The 3-D work, once for all views; each delta is projected as soon as it exists (the sparse
    # voxels of all of them together would take gigabytes).
    deltas: dict[View, dict[str, np.ndarray]] = {v: {} for v in views}
    shadows: dict[View, dict[float, np.ndarray]] = {v: {} for v in views}

    def keep(name: str, pts: Points) -> None:
        for v in views:
            deltas[v][name] = pts.project(v)

    for scale in CARDIO_SCALES:
        delta, shadow = cardiomegaly_delta(mu, heart, lungs, scale)
        keep(f"cardio_{scale}", delta)
        for v in views:
            shadows[v][scale] = shadow.project(v) > 0
    for side, lobes in SIDES.items():
        side_mask = np.zeros_like(lungs)
        for n in lobes:
            side_mask |= lobe_masks[n]
        # Patient left is high i on the canonical grid; the left lung's lateral wall is high i.
        field = EffusionField(mu, side_mask, SPACING_MM[2], lateral_is_high_i=(side == "left"))
        for level in EFFUSION_LEVELS_MM:
            keep(f"effusion_{side}_{level}", field.delta(level))
        for scale in PTX_SCALES:
            keep(
                f"ptx_{side}_{scale}",
                pneumothorax_delta(mu, side_mask, scale, medial_is_high_i=(side == "right")),
            )
    covered = ct.covered if ct.covered is not None else np.ones(CT_SHAPE, dtype=bool)
    # Where the body runs into the edge of what the CT holds, tissue is missing beyond it: a film ray
    # through such a cut (or through no CT at all) is not covered. Rays that only miss air are.
    cut = (mu > 0.5) & ndimage.binary_dilation(~covered, iterations=2) if not covered.all() else None
    lung_mu = np.where(lungs, mu, 0.0)
    out: dict[View, dict[str, np.ndarray]] = {}
    metas: dict[View, dict[str, Any]] = {}
    for view in views:
        maps: dict[str, np.ndarray] = {"base": project(mu, view)}
        for short in LOBES:
            maps[f"lobe_{short}"] = project(lobe_masks[short].astype(np.float32), view)
        for short, names in STRUCTURES.items():
            maps[f"struct_{short}"] = project(mask(names).astype(np.float32), view)
        maps["struct_bone"] = project(bone.astype(np.float32), view)
        maps["lung_mu"] = project(lung_mu, view)
        lung_shadow = np.sum([maps[f"lobe_{n}"] for n in LOBES], axis=0) > 0
        ctr = [measure_ctr(maps["struct_heart"] > 0, lung_shadow)]
        for scale in CARDIO_SCALES:
            ctr.append(measure_ctr(shadows[view][scale], lung_shadow))
        maps["cardio_ctr"] = np.array(ctr, dtype=np.float32)  # [base, *CARDIO_SCALES]
        maps.update(deltas[view])
        maps["coverage"] = (project(covered.astype(np.float32), view) > 0).astype(np.float32)
        if cut is not None:
            maps["coverage"][project(cut.astype(np.float32), view) > 0] = 0.0
        out[view] = {k: np.asarray(v, dtype=np.float32) for k, v in maps.items()}
        metas[view] = {
            **ct.meta,
            "view": view,
            "covered_box": covered_box(maps["coverage"], maps["base"] > 0.5),
        }
    return out, metas
