"""The projected chest: base film projection, structure thickness maps and 3-D finding deltas.

One atlas per patient CT and view (frontal PA, lateral), with the same map names in both views, so
compose/lesions/devices work unchanged on either. Loading, labelling and the 3-D finding deltas are done
once per patient for both views; each atlas is cached as one ``.npz`` under ``<data_dir>/synth/``, named by
ATLAS_VERSION, patient, view and a hash of the source files, and written atomically. A film then costs
milliseconds of array arithmetic.

Besides the maps, ``coverage`` (the fraction of each film ray inside the source CT: 1 where the CT covers
the whole path, 0 beyond its field of view or z-range) and ``Atlas.meta`` (patient_id, view, the fully
covered film box, the tumour record) let film framing stay inside what the CT holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ATLAS_VERSION = "atlas-v11"
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
BONE_PREFIXES = ("rib_", "clavicula_", "scapula_", "vertebrae_", "humerus_", "sternum", "bone_derived")


@dataclass(frozen=True)
class Atlas:
    maps: dict[str, np.ndarray]  # name -> float32 [473, 512] film-grid map
    meta: dict[str, Any] = field(default_factory=dict)  # patient_id, view, coverage box, tumour record

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


# Building and caching live in atlas_build.py / atlas_cache.py; re-exported here so callers keep one
# import (``from medvlm.synth.atlas import load_atlas``).
from medvlm.synth.atlas_cache import atlas_path, build_atlas, load_atlas  # noqa: E402

__all__ = ["ATLAS_VERSION", "Atlas", "atlas_path", "build_atlas", "load_atlas", "measure_ctr"]
