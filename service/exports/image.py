"""The key image as a display-ready greyscale picture for the PDF.

Uses the ingest module's renderer (``medvlm.dicom.render.render_png``: Modality LUT, VOI window,
MONOCHROME1 inversion) when it is installed, so that the PDF shows what the viewer shows; otherwise
falls back to pydicom's own LUT functions, which implement the same standard steps.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.errors import InvalidDicomError

from service.exports.errors import ExportInputError


def read_header(path: Path) -> pydicom.Dataset:
    """The key image's attributes without its pixels (for SR evidence and references)."""
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (OSError, InvalidDicomError) as exc:
        raise ExportInputError(f"key image {path} cannot be read as DICOM: {exc}") from exc


def _first(value: object) -> float:
    """Window attributes may hold several values (one per preset): the first is the default."""
    if isinstance(value, pydicom.multival.MultiValue):
        value = value[0]
    return float(value)  # type: ignore[arg-type]


def _fallback_display(ds: pydicom.Dataset, window: tuple[float, float] | None) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut

    frame = ds.pixel_array
    if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
        frame = frame[0]
    if getattr(ds, "SamplesPerPixel", 1) != 1:
        raise ExportInputError(f"key image has {ds.SamplesPerPixel} samples per pixel; greyscale expected")
    values = apply_modality_lut(frame, ds).astype(np.float32)
    if window is None and "WindowCenter" in ds and "WindowWidth" in ds:
        window = (_first(ds.WindowCenter), _first(ds.WindowWidth))
    if window is not None:
        center, width = window
        low, high = center - width / 2, center + width / 2
    else:  # no window in the file: robust percentiles, so that a few hot pixels do not flatten the image
        low, high = (float(v) for v in np.percentile(values, [0.5, 99.5]))
    scaled = np.clip((values - low) / max(high - low, 1e-6), 0.0, 1.0)
    if getattr(ds, "PhotometricInterpretation", "") == "MONOCHROME1":
        scaled = 1.0 - scaled
    return scaled


def key_image_png(path: Path, *, max_size: int = 1024, window: tuple[float, float] | None = None) -> bytes:
    """PNG bytes of the first frame of ``path``, longest side at most ``max_size`` pixels."""
    render_png: Callable[..., bytes] | None
    try:
        from medvlm.dicom.render import render_png
    except ImportError:  # the ingest module is optional for the exports
        render_png = None
    try:
        ds = pydicom.dcmread(path)
        if render_png is not None:
            return bytes(render_png(ds, frame=0, window=window, max_size=max_size))
        scaled = _fallback_display(ds, window)
    except (OSError, InvalidDicomError, AttributeError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise ExportInputError(f"key image {path} cannot be rendered: {type(exc).__name__}: {exc}") from exc
    image = Image.fromarray((scaled * 255.0 + 0.5).astype(np.uint8), mode="L")
    image.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
