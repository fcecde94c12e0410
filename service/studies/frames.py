"""Frames for the viewer: a rendered PNG (window/level applied server-side) or the stored values raw.

Decoding goes through ``medvlm.dicom`` (limits checked, all transfer syntaxes); the raw endpoint hands
the viewer stored values plus what it needs to apply the Modality LUT and VOI window itself.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from medvlm.db.models import Instance
from medvlm.errors import MedVLMError, PixelDecodeError
from medvlm.service.errors import InvalidInputError
from medvlm.settings import Settings

RAW_DTYPES = {
    np.dtype("uint8"): "uint8",
    np.dtype("uint16"): "uint16",
    np.dtype("int16"): "int16",
    np.dtype("float32"): "float32",
}


def parse_window(window: str | None) -> tuple[float, float] | None:
    if window is None:
        return None
    try:
        center, width = (float(v) for v in window.split(","))
    except ValueError:
        raise InvalidInputError(f"window must be 'center,width' (two numbers), got {window!r}") from None
    if not (np.isfinite(center) and np.isfinite(width)) or width <= 0:
        raise InvalidInputError(f"window width must be a positive finite number, got {window!r}")
    return center, width


def _check_frame(instance: Instance, frame: int) -> None:
    if frame < 0 or frame >= instance.frames:
        raise InvalidInputError(
            f"frame {frame} out of range: instance {instance.sop_instance_uid} has "
            f"{instance.frames} frame(s), numbered from 0"
        )


def _dataset(instance: Instance, settings: Settings) -> Any:
    from medvlm.dicom.parse import read_dataset

    return read_dataset(instance.path, settings)


_PNG_CACHE: OrderedDict[tuple, bytes] = OrderedDict()
_PNG_CACHE_SIZE = 256
_PNG_LOCK = threading.Lock()


def render_frame_png(
    settings: Settings,
    instance: Instance,
    frame: int,
    window: tuple[float, float] | None,
    max_size: int | None,
) -> bytes:
    """A rendered PNG, cached by content hash: stored files never change, so a hit is always current.

    A viewer asks for the same frame again on every reload and every preview; decoding a 2k x 2k film
    each time costs a second of CPU.
    """
    from medvlm.dicom.png import render_png

    _check_frame(instance, frame)
    key = (instance.sha256, frame, window, max_size)
    with _PNG_LOCK:
        if key in _PNG_CACHE:
            _PNG_CACHE.move_to_end(key)
            return _PNG_CACHE[key]
    try:
        png = render_png(_dataset(instance, settings), frame=frame, window=window, max_size=max_size)
    except MedVLMError:
        raise
    except Exception as exc:  # a stored file intake would refuse today (e.g. PALETTE COLOR without LUT)
        raise PixelDecodeError(f"instance {instance.sop_instance_uid} frame {frame} cannot be rendered "
                               f"({type(exc).__name__}: {str(exc)[:200]})") from None
    with _PNG_LOCK:
        _PNG_CACHE[key] = png
        while len(_PNG_CACHE) > _PNG_CACHE_SIZE:
            _PNG_CACHE.popitem(last=False)
    return png


def raw_frame(settings: Settings, instance: Instance, frame: int) -> tuple[bytes, dict[str, str]]:
    from medvlm.dicom.pixels import decode_all

    _check_frame(instance, frame)
    pixels = decode_all(_dataset(instance, settings))
    if instance.frames > 1:
        pixels = pixels[frame]
    pixels = np.ascontiguousarray(pixels)
    if pixels.dtype not in RAW_DTYPES:  # e.g. 32-bit integers: the viewer reads them as float32
        pixels = pixels.astype(np.float32)
    little = pixels.astype(pixels.dtype.newbyteorder("<"), copy=False)
    headers = {
        "X-Rows": str(pixels.shape[0]),
        "X-Columns": str(pixels.shape[1]),
        "X-Pixel-Dtype": RAW_DTYPES[pixels.dtype],
        "X-Samples-Per-Pixel": str(instance.samples_per_pixel),
        "X-Rescale-Slope": repr(float(instance.rescale_slope)),
        "X-Rescale-Intercept": repr(float(instance.rescale_intercept)),
        "X-Window-Center": "" if instance.window_center is None else repr(float(instance.window_center)),
        "X-Window-Width": "" if instance.window_width is None else repr(float(instance.window_width)),
        "X-Photometric": instance.photometric,
    }
    return little.tobytes(), headers
