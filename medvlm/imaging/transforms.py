"""DICOM instance -> normalised 1xHxW float32 tensor, as MONAI dictionary transforms over key ``"image"``.

The pipeline is the viewer's (Modality LUT, VOI LUT or window, MONOCHROME1 inverted so bone is bright,
any bit depth to 0..1), then one robust normalisation for synthetic and real films alike (percentile
landmarks of the image region to fixed values, ``normalise.py``), then the longest side resized to
``size`` and the short side padded with 0 (black) so the anatomy keeps its aspect ratio. Training adds
small seeded affine and intensity jitter; there is no left-right flip, because laterality is part of the
findings. Output values stay in 0..1.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.transforms import (
    Compose,
    EnsureTyped,
    MapTransform,
    RandAdjustContrastd,
    RandAffined,
    RandGaussianNoised,
    Resized,
    SpatialPadd,
)
from pydicom.dataset import Dataset

from medvlm.dicom.pixels import display_frame, read_dataset
from medvlm.errors import MedVLMError, ModelInputError
from medvlm.imaging.normalise import robust_normalise

KEY = "image"
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601: colour -> grey


def load_display(source: Path | str | Dataset, frame: int = 0) -> np.ndarray:
    """A DICOM file or dataset as 1xHxW display values in 0..1 (colour converted to grey)."""
    ds = source if isinstance(source, Dataset) else read_dataset(source)
    values = display_frame(ds, frame)
    if values.ndim == 3:
        values = values @ _LUMA
    return values[None].astype(np.float32)


class LoadDicomFramed(MapTransform):
    """Replace a path or ``Dataset`` under each key by its display frame (1xHxW, 0..1)."""

    def __init__(self, keys: Any, frame: int = 0) -> None:
        super().__init__(keys)
        self.frame = frame

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = load_display(d[key], self.frame)
        return d


class RobustNormalised(MapTransform):
    """Percentile landmarks of the image region to fixed values (see ``normalise.py``); 1xHxW in and out."""

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = robust_normalise(np.asarray(d[key]))
        return d


class ClipUnitd(MapTransform):
    """Keep values in 0..1 after intensity jitter and noise."""

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = d[key].clamp(0.0, 1.0) if isinstance(d[key], torch.Tensor) else np.clip(d[key], 0.0, 1.0)
        return d


def build_transforms(size: int, seed: int = 0, train: bool = False) -> Compose:
    """The seeded pipeline for key ``"image"``: load -> normalise -> resize longest side -> pad square
    [-> jitter]."""
    if size < 8:
        raise ModelInputError(f"image size must be at least 8 pixels, got {size}")
    steps: list[Any] = [
        LoadDicomFramed(KEY),
        RobustNormalised(KEY),
        Resized(KEY, spatial_size=size, size_mode="longest", mode="area"),
        SpatialPadd(KEY, spatial_size=(size, size), method="symmetric", mode="constant", value=0.0),
    ]
    if train:
        steps += [
            RandAffined(KEY, prob=0.8, rotate_range=np.deg2rad(5.0), scale_range=0.05,
                        translate_range=(0.03 * size, 0.03 * size), padding_mode="zeros", mode="bilinear"),
            RandAdjustContrastd(KEY, prob=0.5, gamma=(0.8, 1.25)),
            RandGaussianNoised(KEY, prob=0.3, std=0.01),
        ]
    steps += [EnsureTyped(KEY, data_type="tensor", dtype=torch.float32, track_meta=False), ClipUnitd(KEY)]
    pipeline = Compose(steps)
    pipeline.set_random_state(seed=seed)
    return pipeline


@lru_cache(maxsize=8)
def _eval_pipeline(size: int) -> Compose:
    return build_transforms(size, seed=0, train=False)


def apply(pipeline: Compose, source: Path | str | Dataset) -> torch.Tensor:
    """Run ``pipeline`` on one instance; a library error is re-raised as itself, naming the transform."""
    try:
        out = pipeline({KEY: source})[KEY]
    except RuntimeError as exc:  # MONAI wraps failures as "applying transform <name>"
        cause = exc.__cause__
        if isinstance(cause, MedVLMError):
            raise type(cause)(f"{cause} (in {exc.args[0] if exc.args else 'transform'})") from cause
        raise ModelInputError(f"preprocessing failed: {exc}") from exc
    return torch.as_tensor(out, dtype=torch.float32)


def model_input(path_or_dataset: Path | str | Dataset, size: int) -> torch.Tensor:
    """The model's view of one instance: 1 x size x size float32 in 0..1, aspect kept by padding."""
    return apply(_eval_pipeline(size), path_or_dataset)
