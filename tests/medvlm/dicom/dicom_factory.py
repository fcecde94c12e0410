"""Small, valid DICOM images built in memory for tests (real files written with pydicom, no mocks)."""

from __future__ import annotations

import importlib.metadata
import io
import subprocess
from functools import cache
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"


def make_image(*, rows: int = 32, columns: int = 24, pixels: np.ndarray | None = None,
               photometric: str = "MONOCHROME2", study_uid: str | None = None, series_uid: str | None = None,
               sop_uid: str | None = None, patient_id: str = "P1", seed: int = 0, **attributes: object,
               ) -> Dataset:
    """A DX image with random 12-bit pixels (or ``pixels``) and fresh UIDs unless given."""
    if pixels is None:
        pixels = np.random.default_rng(seed).integers(0, 4096, size=(rows, columns), dtype=np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_STORAGE
    meta.MediaStorageSOPInstanceUID = sop_uid or generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = DX_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.Modality = "DX"
    ds.PatientID = patient_id
    ds.PatientName = "Test^Patient"
    ds.StudyDate = "20260101"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = "A1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    for key, value in attributes.items():
        setattr(ds, key, value)
    ds.PixelData = np.ascontiguousarray(pixels.astype(np.uint16)).tobytes()
    return ds


def to_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_bytes(ds))
    return path


def pydicom_data_dir() -> Path:
    """The pydicom-data wheel's files, located through its metadata (never imported, never fetched)."""
    dist = importlib.metadata.distribution("pydicom-data")
    return Path(str(dist.locate_file("data_store/data")))


def pydicom_data_file(name: str) -> Path:
    """A file of the pydicom-data wheel, a declared dependency: its absence is a broken environment
    (a failure), not a reason to skip."""
    path = pydicom_data_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"pydicom-data has no {name} (looked for {path})")
    return path


def pydicom_test_dir() -> Path:
    return Path(pydicom.__file__).parent / "data"


@cache
def bundled_files() -> list[Path]:
    """Every file shipped in pydicom's data folder and in the pydicom-data wheel (code files excluded)."""
    dist = importlib.metadata.distribution("pydicom-data")
    files = dist.files or []
    wheel = [Path(str(dist.locate_file(f))) for f in files if str(f).startswith("data_store/data/")]
    own = [p for p in sorted(pydicom_test_dir().rglob("*")) if p.is_file()
           and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    return own + sorted(wheel)


def dciodvfy_report(path: Path, *, new: bool = True) -> str:
    """dicom3tools' validator output for one file (``-new``: report only what is wrong, not the IOD
    walk); skips, or fails in CI, where dciodvfy is not installed."""
    from tests.support.services import find_executable, missing_service

    tool = find_executable("dciodvfy")
    if tool is None:
        missing_service("dciodvfy (Debian dicom3tools)")
        raise AssertionError  # unreachable: missing_service skips or fails
    proc = subprocess.run([tool, *(["-new"] if new else []), str(path)], capture_output=True, text=True,
                          timeout=60)
    return proc.stdout + proc.stderr


def dciodvfy(path: Path) -> tuple[list[str], list[str]]:
    """dciodvfy's (error lines, warning lines) for one file."""
    lines = dciodvfy_report(path).splitlines()
    return [ln for ln in lines if ln.startswith("Error")], [ln for ln in lines if ln.startswith("Warning")]
