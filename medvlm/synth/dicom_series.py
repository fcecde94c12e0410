"""One DICOM CT series in a folder -> a volume in HU with its RAS+ affine (the NIfTI convention)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medvlm.synth.ct_sources import CTSourceError
from medvlm.synth.nifti import NiftiVolume


def _headers(paths: list[Path]) -> list:
    import pydicom

    return [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]


def _check_one_ct_series(folder: Path, heads: list) -> None:
    modalities = {str(getattr(h, "Modality", "")) for h in heads}
    if modalities != {"CT"}:
        raise CTSourceError(f"{folder}: expected one CT series, found modalities {sorted(modalities)}")
    series = {str(getattr(h, "SeriesInstanceUID", "")) for h in heads}
    if len(series) != 1:
        raise CTSourceError(f"{folder}: expected one DICOM series, found {len(series)}")


def series_patient_id(folder: Path, paths: list[Path]) -> str:
    heads = _headers(paths[:1])
    return str(getattr(heads[0], "PatientID", "") or folder.name)


def read_dicom_series(folder: Path) -> NiftiVolume:
    import pydicom

    paths = [p for p in sorted(folder.iterdir()) if p.is_file()]
    heads = _headers(paths)
    _check_one_ct_series(folder, heads)
    if len(heads) < 3:
        raise CTSourceError(f"{folder}: {len(heads)} slices, too few for a chest CT")
    orient = np.array(heads[0].ImageOrientationPatient, dtype=np.float64)
    row, col = orient[:3], orient[3:]
    normal = np.cross(row, col)
    pos = np.array([h.ImagePositionPatient for h in heads], dtype=np.float64)
    order = np.argsort(pos @ normal)
    pos = pos[order]
    steps = np.diff(pos @ normal)
    if np.any(steps <= 0) or np.ptp(steps) > 0.01 * steps.mean() + 1e-3:
        raise CTSourceError(
            f"{folder}: slices are not evenly spaced (steps {steps.min():.2f}-{steps.max():.2f} mm)"
        )
    slices = []
    for idx in order:
        ds = pydicom.dcmread(paths[idx])
        arr = ds.pixel_array.astype(np.float32)
        slices.append(arr * float(getattr(ds, "RescaleSlope", 1)) + float(getattr(ds, "RescaleIntercept", 0)))
    # pixel_array is [row, column]; volume index i runs along a row (the column index), j down the rows.
    data = np.stack([s.T for s in slices], axis=2)
    dr, dc = (float(v) for v in heads[0].PixelSpacing)  # between rows, between columns
    lps = np.eye(4)
    lps[:3, 0] = row * dc
    lps[:3, 1] = col * dr
    lps[:3, 2] = (pos[-1] - pos[0]) / (len(pos) - 1)
    lps[:3, 3] = pos[0]
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps  # LPS (DICOM) -> RAS (NIfTI)
    spacing = (dc, dr, float(steps.mean()))
    return NiftiVolume(data=data, spacing=spacing, affine=affine)
