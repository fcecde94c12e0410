"""Helpers for the multi-CT tests: the shared CT folder (absent in a fresh clone), NIfTI writing, and a
synthetic chest phantom on the canonical grid."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from medvlm.synth.grid import CT_SHAPE, SPACING_MM

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_CT = REPO_ROOT.parent / "shared" / "ct"


def shared_ct(rel: str) -> Path:
    path = SHARED_CT / rel
    if not path.exists():
        pytest.skip(f"{path} not present (the shared CT folder sits beside the repository only on dev hosts)")
    return path


def write_nifti(path: Path, data: np.ndarray, affine: np.ndarray) -> Path:
    """A NIfTI-1 file (int16, sform set) for tests."""
    header = bytearray(352)
    struct.pack_into("<i", header, 0, 348)
    struct.pack_into("<8h", header, 40, 3, *data.shape, 1, 1, 1, 1)
    struct.pack_into("<h", header, 70, 4)
    spacing = np.abs(affine[:3, :3]).max(axis=0)
    struct.pack_into("<8f", header, 76, 1.0, *spacing, 1, 1, 1, 1)
    struct.pack_into("<f", header, 108, 352.0)
    struct.pack_into("<2f", header, 112, 1.0, 0.0)
    struct.pack_into("<h", header, 254, 1)
    struct.pack_into("<12f", header, 280, *affine[:3].ravel())
    header[344:348] = b"n+1\0"
    path.write_bytes(gzip.compress(bytes(header) + data.astype("<i2").tobytes(order="F")))
    return path


def phantom_chest() -> np.ndarray:
    """HU on the canonical grid: a soft-tissue trunk, two air lungs (right at low i), a trachea column
    down to the carina, a spine behind and the heart (soft tissue) between the lungs."""
    ii, jj, kk = np.ogrid[: CT_SHAPE[0], : CT_SHAPE[1], : CT_SHAPE[2]]
    x = (ii - 255.5) * SPACING_MM[0]  # mm, + toward patient left
    y = (jj - 255.5) * SPACING_MM[1]  # mm, + anterior
    z = (kk - 66.0) * SPACING_MM[2]  # mm, + superior
    hu = np.full(CT_SHAPE, -1000.0, dtype=np.float32)
    trunk = (x / 160.0) ** 2 + (y / 110.0) ** 2 <= 1.0
    hu[np.broadcast_to(trunk, CT_SHAPE)] = 30.0
    for cx in (-75.0, 75.0):
        lung = ((x - cx) / 60.0) ** 2 + ((y + 5.0) / 75.0) ** 2 + ((z + 10.0) / 120.0) ** 2 <= 1.0
        hu[lung] = -850.0
    heart = ((x - 15.0) / 45.0) ** 2 + ((y - 30.0) / 45.0) ** 2 + ((z + 60.0) / 50.0) ** 2 <= 1.0
    hu[heart & (hu > -500)] = 40.0
    trachea = (x**2 + (y - 10.0) ** 2 <= 9.0**2) & (z > 40.0)
    hu[np.broadcast_to(trachea, CT_SHAPE)] = -1000.0
    spine = (x**2 + (y + 70.0) ** 2 <= 18.0**2) & (z > -400)
    hu[np.broadcast_to(spine, CT_SHAPE)] = 600.0
    return hu
