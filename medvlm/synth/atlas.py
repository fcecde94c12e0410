"""The projected chest: base film projection, structure thickness maps and 3-D finding deltas.

Projecting the whole CT takes seconds; after that every film is the base projection plus small deltas.
The atlas is built once and cached as one ``.npz`` under ``<data_dir>/synth/``; a film then costs
milliseconds of array arithmetic.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from medvlm.settings import get_settings
from medvlm.synth.grid import SPACING_MM, project

ATLAS_VERSION = "atlas-v6"
CARDIO_SCALES = (1.1, 1.2, 1.3, 1.4, 1.5, 1.6)
EFFUSION_LEVELS_MM = (20.0, 30.0, 40.0, 50.0, 65.0, 80.0, 95.0, 110.0, 125.0)
PTX_SCALES = (0.85, 0.72, 0.6)
LOBES = {
    "rul": "lung_upper_lobe_right",
    "rml": "lung_middle_lobe_right",
    "rll": "lung_lower_lobe_right",
    "lul": "lung_upper_lobe_left",
    "lll": "lung_lower_lobe_left",
}
STRUCTURES = {
    "heart": ("heart", "atrial_appendage_left"),
    "trachea": ("trachea",),
    "esophagus": ("esophagus",),
    "svc": ("superior_vena_cava",),
    "bcv_left": ("brachiocephalic_vein_left",),
    "bcv_right": ("brachiocephalic_vein_right",),
    "stomach": ("stomach",),
    "aorta": ("aorta",),
    "clavicle_left": ("clavicula_left",),
    "clavicle_right": ("clavicula_right",),
}
SIDES = {"right": ("rul", "rml", "rll"), "left": ("lul", "lll")}
BONE_PREFIXES = ("rib_", "clavicula_", "scapula_", "vertebrae_", "humerus_", "sternum")


@dataclass(frozen=True)
class Atlas:
    maps: dict[str, np.ndarray]  # name -> float32 [473, 512] film-grid map

    def __getitem__(self, name: str) -> np.ndarray:
        return self.maps[name]

    def lung(self, side: str | None = None) -> np.ndarray:
        names = SIDES[side] if side else SIDES["right"] + SIDES["left"]
        return self.total(f"lobe_{n}" for n in names)

    def total(self, names: Iterable[str]) -> np.ndarray:
        """The sum of some maps (projections add)."""
        out = np.zeros_like(self.maps["base"])
        for name in names:
            out += self.maps[name]
        return out


def measure_ctr(heart_shadow: np.ndarray, lung_shadow: np.ndarray) -> float:
    """Cardiothoracic ratio on the film grid: widest heart row over the widest inner thorax (lung) row."""

    def widest(mask: np.ndarray) -> int:
        cols = np.nonzero(mask.any(axis=0))[0]
        return 0 if cols.size == 0 else int(cols.max() - cols.min() + 1)

    rows = np.nonzero(heart_shadow.any(axis=1))[0]
    heart_width = max(widest(heart_shadow[r : r + 1]) for r in rows) if rows.size else 0
    thorax = max(widest(lung_shadow[r : r + 1]) for r in range(lung_shadow.shape[0]))
    return heart_width / max(thorax, 1)


def build_atlas(progress: bool = False) -> dict[str, np.ndarray]:
    from medvlm.synth.inserts3d import EffusionField, cardiomegaly_delta, pneumothorax_delta
    from medvlm.synth.volume import load_chest_ct

    ct = load_chest_ct()
    mu, lab, ids = ct.mu, ct.labels, ct.structures
    maps: dict[str, np.ndarray] = {"base": project(mu)}
    lobe_masks = {}
    for short, name in LOBES.items():
        lobe_masks[short] = lab == ids[name]
        maps[f"lobe_{short}"] = project(lobe_masks[short].astype(np.float32))
    for short, names in STRUCTURES.items():
        maps[f"struct_{short}"] = project(np.isin(lab, [ids[n] for n in names]).astype(np.float32))
    bone_ids = [v for n, v in ids.items() if n.startswith(BONE_PREFIXES)]
    maps["struct_bone"] = project(np.isin(lab, bone_ids).astype(np.float32))
    maps["lung_mu"] = project(np.where(np.isin(lab, [ids[n] for n in LOBES.values()]), mu, 0.0))
    lungs = np.zeros_like(lobe_masks["rul"])
    for m in lobe_masks.values():
        lungs |= m
    heart = np.isin(lab, [ids[n] for n in STRUCTURES["heart"]])
    lung_shadow = np.sum([maps[f"lobe_{n}"] for n in LOBES], axis=0) > 0
    ctr = [measure_ctr(maps["struct_heart"] > 0, lung_shadow)]
    for scale in CARDIO_SCALES:
        delta, shadow = cardiomegaly_delta(mu, heart, lungs, scale)
        maps[f"cardio_{scale}"] = delta
        ctr.append(measure_ctr(shadow, lung_shadow))
    maps["cardio_ctr"] = np.array(ctr, dtype=np.float32)  # [base, *CARDIO_SCALES]
    for side, lobes in SIDES.items():
        side_mask = np.zeros_like(lungs)
        for n in lobes:
            side_mask |= lobe_masks[n]
        # Patient left is high i on this CT (film right); the left lung's lateral wall is high i.
        field = EffusionField(mu, side_mask, SPACING_MM[2], lateral_is_high_i=(side == "left"))
        for level in EFFUSION_LEVELS_MM:
            maps[f"effusion_{side}_{level}"] = field.delta(level)
        for scale in PTX_SCALES:
            maps[f"ptx_{side}_{scale}"] = pneumothorax_delta(
                mu, side_mask, scale, medial_is_high_i=(side == "right")
            )
    return {k: np.asarray(v, dtype=np.float32) for k, v in maps.items()}


def atlas_path(data_dir: Path | None = None) -> Path:
    root = data_dir if data_dir is not None else get_settings().data_dir
    return Path(root) / "synth" / f"{ATLAS_VERSION}.npz"


@lru_cache(maxsize=2)
def _load(path: Path) -> Atlas:
    with np.load(path) as data:
        return Atlas(maps={k: data[k] for k in data.files})


def load_atlas(data_dir: Path | None = None) -> Atlas:
    """The cached atlas, built (a few seconds to a minute) and written atomically on first use."""
    path = atlas_path(data_dir).resolve()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        maps = build_atlas()
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.part")
        os.close(fd)
        with open(tmp, "wb") as fh:
            np.savez(fh, **maps)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
        os.replace(tmp, path)
    return _load(path)
