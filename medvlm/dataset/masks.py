"""Masks of a built dataset's frontal films: the lungs and the heart, and where each finding was drawn.

One compressed file per study under ``masks/``, named in the record's provenance (``masks``), so a model can
learn to outline the organs a radiologist measures (the cardiothoracic ratio) and the findings themselves
from films whose truth is known exactly. Real films and older builds have none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medvlm.dataset.errors import DatasetError
from medvlm.synth.compose import OUTLINED

MASKS_DIR = "masks"
ORGANS = ("lungs", "heart")
CHANNELS = (*ORGANS, *OUTLINED)  # every mask a film can carry; a finding not drawn has an empty one


def write_masks(path: Path, masks: dict[str, np.ndarray]) -> Path:
    """Write a film's bool masks (all of ``ORGANS``, and the findings drawn) as one compressed file;
    returns ``path``."""
    missing = [o for o in ORGANS if o not in masks]
    if missing:
        raise DatasetError(f"film has no {', '.join(missing)} mask to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{name: m.astype(bool) for name, m in masks.items() if name in CHANNELS})
    return path


def masks_path(provenance: dict[str, Any], root: Path) -> Path | None:
    """Where a record's masks are (its ``provenance`` names them relative to the dataset folder ``root``);
    None when it has none."""
    name = provenance.get("masks")
    return (root / name).resolve() if name else None


def read_masks(path: Path | None, channels: tuple[str, ...] = ORGANS) -> np.ndarray | None:
    """The masks at ``path`` as bool [len(channels), H, W] in ``channels`` order (a finding not drawn: all
    False), or None for no path."""
    if path is None:
        return None
    try:
        with np.load(path) as data:
            shape = data[ORGANS[0]].shape
            return np.stack([data[c] if c in data.files else np.zeros(shape, bool) for c in channels])
    except (OSError, KeyError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable masks ({exc})") from exc


__all__ = ["CHANNELS", "MASKS_DIR", "ORGANS", "masks_path", "read_masks", "write_masks"]
