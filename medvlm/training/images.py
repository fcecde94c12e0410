"""Model-input images for training: decoded once from DICOM, cached as float16, augmented per step (seeded).

Decoding uses ``medvlm.imaging.transforms.model_input`` (VOI / MONOCHROME1 / aspect-keeping pad) when that
module is present, and a plain pydicom fallback otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from medvlm.errors import DicomError


def _fallback_input(path: Path, size: int) -> torch.Tensor:
    import pydicom

    try:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array.astype(np.float32)
    except Exception as exc:  # pydicom raises many types for broken files
        raise DicomError(f"cannot decode pixels of {path}: {exc}") from None
    if pixels.ndim == 3:
        pixels = pixels[0]
    slope, intercept = (
        float(getattr(ds, "RescaleSlope", 1) or 1),
        float(getattr(ds, "RescaleIntercept", 0) or 0),
    )
    pixels = pixels * slope + intercept
    low, high = np.percentile(pixels, [0.5, 99.5])
    pixels = np.clip((pixels - low) / max(high - low, 1e-6), 0, 1)
    if getattr(ds, "PhotometricInterpretation", "") == "MONOCHROME1":
        pixels = 1.0 - pixels
    h, w = pixels.shape
    side = max(h, w)
    canvas = np.zeros((side, side), np.float32)
    canvas[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = pixels
    t = torch.from_numpy(canvas)[None, None]
    t = F.interpolate(t, size=(size, size), mode="area")[0]
    return t  # 0..1, like model_input


def load_image(path: Path, size: int) -> torch.Tensor:
    """(1, size, size) float32 model input of one DICOM file."""
    try:
        from medvlm.imaging.transforms import model_input
    except ImportError:
        return _fallback_input(path, size)
    return model_input(path, size).float()


def _preprocessing() -> str:
    try:
        from medvlm.imaging.normalise import NORMALISATION_VERSION
    except ImportError:
        return "fallback"
    return NORMALISATION_VERSION


def cache_images(
    paths: Sequence[Path], size: int, cache_dir: Path | None, progress: bool = False
) -> torch.Tensor:
    """All images as one (N, 1, S, S) float16 tensor, reused from ``cache_dir`` when the list is the same."""
    # the preprocessing version is in the key: a cache decoded by an older pipeline is never reused
    text = "\n".join(map(str, paths)) + f"|{size}|{_preprocessing()}"
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    cache = cache_dir / f"images_{key}.pt" if cache_dir else None
    if cache and cache.is_file():
        return torch.load(cache, weights_only=True)
    out = torch.empty((len(paths), 1, size, size), dtype=torch.float16)
    from tqdm import tqdm

    for i, path in enumerate(tqdm(paths, desc="decode images", disable=not progress, leave=False)):
        out[i] = load_image(path, size).to(torch.float16)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        torch.save(out, tmp)
        tmp.replace(cache)
    return out


def augment(images: torch.Tensor, generator: torch.Generator,
            bias_field: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Small seeded shift / scale / rotation and exposure jitter; no flips (laterality must survive).
    ``bias_field`` > 0 also multiplies each film by a smooth random field (log-gain of that standard
    deviation on a 4 x 4 grid, upsampled): regional brightness stops being evidence (a lucent apex is not a
    pneumothorax). Its draws come after the others, so the rest of the augmentation is unchanged.

    Returns the images and the (B, 2, 3) ``affine_grid`` matrices used, so positions can follow them."""
    b = images.shape[0]
    scale = 1 + (torch.rand(b, generator=generator) - 0.5) * 0.10
    angle = (torch.rand(b, generator=generator) - 0.5) * 0.10
    shift = (torch.rand(b, 2, generator=generator) - 0.5) * 0.08
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    fill = images.amin(dim=(1, 2, 3), keepdim=True)
    out = F.grid_sample(images - fill, grid, align_corners=False, padding_mode="zeros") + fill
    gain = 1 + (torch.rand(b, 1, 1, 1, generator=generator) - 0.5) * 0.2
    bias = (torch.rand(b, 1, 1, 1, generator=generator) - 0.5) * 0.2
    if bias_field > 0:
        coarse = torch.randn(b, 1, 4, 4, generator=generator) * bias_field
        field = F.interpolate(coarse, size=images.shape[-2:], mode="bicubic", align_corners=False).exp()
        out = (out - fill) * field + fill
    return out * gain + bias, theta


def identity_theta(batch: int) -> torch.Tensor:
    """The ``affine_grid`` matrices of images left as they are."""
    return torch.eye(2, 3).unsqueeze(0).repeat(batch, 1, 1)
