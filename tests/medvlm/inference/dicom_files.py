"""Small, valid chest CR instances written with pydicom (real files the real reader decodes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"


def chest_film(seed: int = 0, size: int = 128) -> np.ndarray:
    """A synthetic frontal chest film (medvlm.synth), uint16 bone bright: passes the intended-use gate."""
    from medvlm.synth.compose import render_film

    return render_film([], seed=seed, size=size).pixels


def write_cr(path: Path, *, study_uid: str, view: str = "PA", seed: int = 0, size: int = 96,
             instance_number: int = 1, pixels: np.ndarray | None = None, body_part: str | None = "CHEST",
             modality: str = "CR") -> Path:
    """A CR file; noise unless ``pixels`` (uint16) are given (noise is no chest film: the gate refuses it)."""
    rng = np.random.default_rng(seed)
    if pixels is None:
        pixels = (rng.random((size, size)) * 4000).astype(np.uint16)
    pixels = np.ascontiguousarray(pixels, dtype=np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CR_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CR_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = "P001"
    ds.PatientName = "Test^Patient"
    ds.Modality = modality
    ds.ViewPosition = view
    if body_part:
        ds.BodyPartExamined = body_part
    ds.InstanceNumber = instance_number
    ds.StudyDate = "20260101"
    ds.AccessionNumber = "A1"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
