"""The key image for the PDF, rendered by ``medvlm.dicom.png`` (Modality LUT, VOI window, MONOCHROME1
inversion, file-size and pixel limits) so that the PDF shows what the viewer shows."""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from medvlm.errors import MedVLMError
from medvlm.service.exports.errors import ExportInputError


def read_header(path: Path) -> pydicom.Dataset:
    """The key image's attributes without its pixels (for SR evidence and references)."""
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (OSError, InvalidDicomError) as exc:
        raise ExportInputError(f"key image {path} cannot be read as DICOM: {exc}") from exc


def key_image_png(path: Path, *, max_size: int = 1024, window: tuple[float, float] | None = None) -> bytes:
    """PNG bytes of the first frame of ``path``, longest side at most ``max_size`` pixels."""
    from medvlm.dicom.pixels import read_dataset
    from medvlm.dicom.png import render_png

    try:
        return render_png(read_dataset(path), frame=0, window=window, max_size=max_size)
    except (MedVLMError, OSError) as exc:
        raise ExportInputError(f"key image {path} cannot be rendered: {exc}") from exc
