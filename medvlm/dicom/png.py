"""A frame as a PNG: display values (VOI, MONOCHROME1 inverted) to 8 bits, optionally downscaled."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset

from medvlm.dicom.pixels import display_frame
from medvlm.errors import DicomError


def to_image(ds: Dataset, frame: int = 0, window: tuple[float, float] | None = None,
             max_size: int | None = None) -> Image.Image:
    if max_size is not None and max_size < 1:
        raise DicomError(f"max_size must be a positive number of pixels, got {max_size}")
    values = display_frame(ds, frame, window)
    pixels = np.round(values * 255.0).astype(np.uint8)
    image = Image.fromarray(pixels, mode="RGB" if pixels.ndim == 3 else "L")
    if max_size is not None and max(image.size) > max_size:
        image.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)  # keeps the aspect ratio
    return image


def render_png(ds: Dataset, frame: int = 0, window: tuple[float, float] | None = None,
               max_size: int | None = None) -> bytes:
    buffer = io.BytesIO()
    to_image(ds, frame, window, max_size).save(buffer, format="PNG")
    return buffer.getvalue()
