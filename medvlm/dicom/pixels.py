"""Pixels as a radiologist sees them: decode, Modality LUT, VOI LUT or window, MONOCHROME1 inversion.

Decoding goes through pydicom's plugin decoders (pylibjpeg for JPEG / JPEG-LS / JPEG 2000 / RLE,
python-gdcm as the fallback), so every transfer syntax pydicom ships test files for is covered.
``modality_frame`` gives values in modality units (HU for CT); ``display_frame`` gives 0..1 with bone
bright whatever the photometric interpretation, which is what both the viewer and the model see.
"""

from __future__ import annotations

import warnings

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, get_decoder

from medvlm.dicom.parse import read_dataset
from medvlm.dicom.validate import frame_count
from medvlm.errors import DicomError, PixelDecodeError

__all__ = ["decode_all", "display_frame", "is_color", "modality_frame", "read_dataset", "window_linear"]


def _transfer_syntax(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    if ts is None:
        raise PixelDecodeError("no Transfer Syntax UID: cannot tell how the pixel data is encoded")
    return ts


def _decode_error(ds: Dataset, exc: Exception) -> PixelDecodeError:
    ts = _transfer_syntax(ds) if "TransferSyntaxUID" in getattr(ds, "file_meta", {}) else "unknown"
    name = getattr(ts, "name", str(ts))
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    detail = "; ".join(lines[:3])[:400] or type(exc).__name__
    return PixelDecodeError(f"pixel data cannot be decoded ({name}): {detail}")


def decode_all(ds: Dataset) -> np.ndarray:
    """Every frame, decoded (the ingest check that the pixel data is whole and readable)."""
    if "PixelData" not in ds:
        raise PixelDecodeError("no Pixel Data (7FE0,0010) to decode")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ds.pixel_array
    except Exception as exc:  # decoders raise ValueError/RuntimeError/etc. for corrupt streams
        raise _decode_error(ds, exc) from exc


def _decode_frame(ds: Dataset, frame: int) -> np.ndarray:
    frames = frame_count(ds)
    if not 0 <= frame < frames:
        raise DicomError(f"frame {frame} does not exist: the instance has {frames} frame(s), "
                         f"numbered 0..{frames - 1}")
    if "PixelData" not in ds:
        raise PixelDecodeError("no Pixel Data (7FE0,0010) to decode")
    cached = getattr(ds, "_pixel_array", None)
    if cached is not None:
        return cached[frame] if frames > 1 else cached
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr, _meta = get_decoder(_transfer_syntax(ds)).as_array(ds, index=frame)
    except PixelDecodeError:
        raise
    except Exception as exc:
        raise _decode_error(ds, exc) from exc
    return arr


def is_color(ds: Dataset) -> bool:
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    return int(ds.get("SamplesPerPixel", 1) or 1) > 1 or photometric == "PALETTE COLOR"


def modality_frame(ds: Dataset, frame: int = 0) -> np.ndarray:
    """One frame in modality units (float32): rescale slope/intercept or the Modality LUT Sequence applied.

    Colour images come back as HxWx3 RGB (palette applied, YBR converted by the decoder), not rescaled.
    """
    arr = _decode_frame(ds, frame)
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if photometric == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
    if is_color(ds):
        return np.asarray(arr, dtype=np.float32)
    return np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)


def window_linear(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 windowing to 0..1 (LINEAR, LINEAR_EXACT, SIGMOID)."""
    if width <= 0 or (function != "LINEAR_EXACT" and width < 1):
        raise DicomError(f"window width must be positive (at least 1 for LINEAR), got {width}")
    if function == "SIGMOID":
        out = 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    elif function == "LINEAR_EXACT":
        out = (values - center) / width + 0.5
    else:
        out = (values - (center - 0.5)) / max(width - 1.0, 1e-6) + 0.5
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _first(value: object) -> float:
    if not isinstance(value, str | bytes) and hasattr(value, "__getitem__"):
        value = value[0]  # multi-valued window: the first is the default view (PS3.3 C.11.2.1.2)
    return float(value)  # type: ignore[arg-type]


def _stored_window(ds: Dataset) -> tuple[float, float] | None:
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    try:
        center, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
    except (TypeError, ValueError, IndexError):
        return None
    return (center, width) if width > 0 else None


def _minmax(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros_like(values, dtype=np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


def _voi_lut_sequence(values: np.ndarray, ds: Dataset) -> np.ndarray:
    item = ds.VOILUTSequence[0]
    lut = np.asarray(item.LUTData if isinstance(item.LUTData, list) else [item.LUTData]).ravel()
    mapped = apply_voi(values.astype(np.int64) if np.all(np.mod(values, 1) == 0) else values, ds, 0)
    low, high = float(lut.min()), float(lut.max())
    return np.clip((np.asarray(mapped, dtype=np.float32) - low) / max(high - low, 1.0), 0, 1)


def display_frame(ds: Dataset, frame: int = 0, window: tuple[float, float] | None = None) -> np.ndarray:
    """One frame as 0..1 float32 for display: VOI applied, MONOCHROME1 inverted (bone bright).

    ``window`` (centre, width, in modality units) overrides the stored VOI; otherwise the VOI LUT
    Sequence, then the first stored window, then the frame's min..max is used.
    """
    values = modality_frame(ds, frame)
    if is_color(ds):
        bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 8)) or 8)
        if "RedPaletteColorLookupTableDescriptor" in ds:  # palette output depth, not the index depth
            bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
        top = float(2**bits - 1)
        return np.clip(values / top, 0.0, 1.0).astype(np.float32)
    function = str(ds.get("VOILUTFunction", "LINEAR")).strip().upper() or "LINEAR"
    if window is not None:
        out = window_linear(values, float(window[0]), float(window[1]), function)
    elif "VOILUTSequence" in ds and len(ds.VOILUTSequence):
        out = _voi_lut_sequence(values, ds)
    elif (stored := _stored_window(ds)) is not None:
        out = window_linear(values, *stored, function)
    else:
        out = _minmax(values)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        out = 1.0 - out
    return out.astype(np.float32)
