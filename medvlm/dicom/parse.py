"""Bytes or a path -> a pydicom ``Dataset``, refusing non-DICOM input with a reason instead of guessing.

Files without the 128-byte preamble and ``DICM`` marker are read only when their first element is a
plausible group (0002 or 0008); otherwise random bytes named ``.dcm`` would parse as garbage.
A missing Transfer Syntax UID is filled in from the encoding the file was actually read with, so that
the stored original decodes the same way every time it is read back.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from medvlm.compliance.nesting import DEFAULT_MAX_SEQUENCE_DEPTH, sequence_depth
from medvlm.errors import DicomError, LimitExceededError
from medvlm.settings import Settings, get_settings

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
_PLAUSIBLE_FIRST_GROUPS = {0x0002, 0x0008}


def _has_preamble(data: bytes) -> bool:
    return len(data) >= 132 and data[128:132] == b"DICM"


def _plausible_bare_dataset(data: bytes) -> bool:
    if len(data) < 8:
        return False
    little = int.from_bytes(data[0:2], "little")
    big = int.from_bytes(data[0:2], "big")
    return little in _PLAUSIBLE_FIRST_GROUPS or big in _PLAUSIBLE_FIRST_GROUPS


def _fill_transfer_syntax(ds: Dataset) -> None:
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" in meta:
        return
    implicit, little = ds.original_encoding
    if implicit is None:
        return
    if implicit:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def parse_dataset(data: bytes, max_depth: int = DEFAULT_MAX_SEQUENCE_DEPTH) -> Dataset:
    """Parse one DICOM file held in memory; ``DicomError`` says why it is not one.

    Sequences nested deeper than ``max_depth`` are refused here, before anything walks the dataset.
    """
    if not data:
        raise DicomError("empty file (0 bytes)")
    if not _has_preamble(data) and not _plausible_bare_dataset(data):
        raise DicomError("not a DICOM file: no 'DICM' marker at byte 128 and no DICOM element at the start")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data), force=not _has_preamble(data))
            depth = sequence_depth(ds, stop_after=max_depth)
    except InvalidDicomError as exc:
        raise DicomError(f"not a DICOM file: {exc}") from exc
    except Exception as exc:  # pydicom raises many types on corrupt input; all mean the same here
        raise DicomError(f"unreadable DICOM ({type(exc).__name__}: {_first_line(exc)})") from exc
    if len(ds) == 0:
        raise DicomError("not a DICOM file: no data elements could be read")
    if depth > max_depth:
        raise LimitExceededError(f"sequences nested more than {max_depth} levels deep, over the limit "
                                 "(MEDVLM_MAX_SEQUENCE_DEPTH)")
    _fill_transfer_syntax(ds)
    return ds


def read_dataset(path: Path | str, settings: Settings | None = None) -> Dataset:
    """Read a DICOM file from disk, with the file-size and declared-pixel limits checked first."""
    from medvlm.dicom.validate import check_pixel_limits

    settings = settings or get_settings()
    path = Path(path)
    size = path.stat().st_size
    if size > settings.max_file_bytes:
        raise LimitExceededError(
            f"{path}: {size} bytes, over the limit of {settings.max_file_bytes} (MEDVLM_MAX_FILE_BYTES)")
    ds = parse_dataset(path.read_bytes(), settings.max_sequence_depth)
    if "PixelData" in ds:
        check_pixel_limits(ds, settings)
    return ds


def is_dicomdir(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None)
    sop_class = str(meta.get("MediaStorageSOPClassUID", "")) if meta is not None else ""
    return sop_class == MEDIA_STORAGE_DIRECTORY or "DirectoryRecordSequence" in ds


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
