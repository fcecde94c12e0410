"""A corpus of malformed DICOM files for the intake fuzz test (issue #19): seeded, so a failure is
reproducible by its name (``<kind>-<n>``).

Each file starts from a valid small DX image and is broken one way: bytes flipped or cut, lengths that
lie, attributes with impossible values (sizes, bit depths, NaN, bad UIDs, palette without its table),
missing required attributes, deep sequences, huge or non-ASCII text, identities that clash with another
file (a series or study under another patient), non-DICOM bytes and broken zips. A few valid files are
mixed in, so the test also sees what must be stored.
"""

from __future__ import annotations

import io
import random
import warnings
import zipfile
from collections.abc import Callable

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

DX = "1.2.840.10008.5.1.4.1.1.1.1"
_STUDY_POOL = [generate_uid(prefix="1.2.826.0.1.3680043.10.1.") for _ in range(4)]
_SERIES_POOL = [generate_uid(prefix="1.2.826.0.1.3680043.10.2.") for _ in range(4)]


def base_image(rng: random.Random, *, rows: int = 24, columns: int = 20) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = DX
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "DX"
    ds.PatientID = f"FUZZ{rng.randrange(1000)}"
    ds.PatientName = "Fuzz^Patient"
    ds.StudyDate = "20260101"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    pixels = np.random.default_rng(rng.randrange(2**32)).integers(0, 4096, (rows, columns), dtype=np.uint16)
    ds.PixelData = pixels.tobytes()
    return ds


def encode(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # pydicom warns about every invalid value we write on purpose
        warnings.simplefilter("ignore")
        ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _edit(**values: object) -> Callable[[random.Random], bytes]:
    def make(rng: random.Random) -> bytes:
        ds = base_image(rng)
        for keyword, value in values.items():
            if value is None:
                delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
        return encode(ds)
    return make


def _raw(tag: int, vr: str, value: object) -> Callable[[random.Random], bytes]:
    def make(rng: random.Random) -> bytes:
        ds = base_image(rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.add_new(tag, vr, value)
        return encode(ds)
    return make


def _flip(region: str) -> Callable[[random.Random], bytes]:
    def make(rng: random.Random) -> bytes:
        data = bytearray(encode(base_image(rng)))
        low, high = (132, min(len(data), 600)) if region == "header" else (0, len(data))
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(low, high)] = rng.randrange(256)
        return bytes(data)
    return make


def _truncate(rng: random.Random) -> bytes:
    data = encode(base_image(rng))
    return data[:rng.randrange(1, len(data) - 1)]


def _lying_length(rng: random.Random) -> bytes:
    data = bytearray(encode(base_image(rng)))
    at = data.find(b"PN")  # Patient Name: explicit VR, a 2-byte length after the VR
    if at > 0:
        data[at + 2:at + 4] = rng.choice([b"\xff\xff", b"\xfe\xff", b"\x00\x80"])
    return bytes(data)


def _deep_sequence(rng: random.Random) -> bytes:
    ds = base_image(rng)
    inner = Dataset()
    inner.CodeValue = "x"
    for _ in range(rng.randint(20, 60)):
        outer = Dataset()
        outer.ContentSequence = Sequence([inner])
        inner = outer
    ds.ContentSequence = Sequence([inner])
    return encode(ds)


def _huge_text(rng: random.Random) -> bytes:
    ds = base_image(rng)
    ds.StudyDescription = "A" * rng.choice([70_000, 200_000])
    ds.PatientName = "Ü" * 500 + "^\x00\x1b[31m"
    return encode(ds)


def _clashing_identity(rng: random.Random) -> bytes:
    ds = base_image(rng)
    ds.StudyInstanceUID = rng.choice(_STUDY_POOL)
    ds.SeriesInstanceUID = rng.choice(_SERIES_POOL)
    ds.PatientID = rng.choice(["ALICE", "BOB", "CAROL"])
    return encode(ds)


def _implicit_without_meta(rng: random.Random) -> bytes:
    ds = base_image(rng)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    data = encode(ds)
    return data[132 + int.from_bytes(data[140:144], "little") + 12:]  # the bare data set


def _random_bytes(rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice([0, 3, 200, 5000]))


def _broken_zip(rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.dcm", _truncate(rng))
        archive.writestr("../evil.dcm", encode(base_image(rng)))
    data = buffer.getvalue()
    return data[:len(data) - rng.randrange(0, 40)]


def _rle_declared(rng: random.Random) -> bytes:
    """Native pixels under a meta header that says RLE Lossless (same length, so the file still parses)."""
    return encode(base_image(rng)).replace(b"1.2.840.10008.1.2.1\x00", b"1.2.840.10008.1.2.5\x00", 1)


def _valid(rng: random.Random) -> bytes:
    return encode(base_image(rng))


MUTATIONS: dict[str, Callable[[random.Random], bytes]] = {
    "valid": _valid,
    "flip-header": _flip("header"),
    "flip-anywhere": _flip("any"),
    "truncated": _truncate,
    "lying-length": _lying_length,
    "rows-zero": _edit(Rows=0),
    "huge-declared": _raw(0x00280010, "UL", 100_000),
    "bits-odd": _edit(BitsAllocated=12),
    "bits-stored-over": _edit(BitsStored=40),
    "photometric-junk": _edit(PhotometricInterpretation="NOT_A_PI"),
    "palette-no-lut": _edit(PhotometricInterpretation="PALETTE COLOR"),
    "frames-huge": _raw(0x00280008, "IS", "99999999"),
    "frames-negative": _raw(0x00280008, "IS", "-3"),
    "pixels-short": _edit(PixelData=b"\x00" * 10),
    "samples-3": _edit(SamplesPerPixel=3),
    "slope-nan": _raw(0x00281053, "DS", "NaN"),
    "slope-inf": _raw(0x00281053, "DS", "inf"),
    "window-nan": _raw(0x00281050, "DS", "NaN"),
    "uid-path": _raw(0x0020000D, "UI", "../../etc/passwd"),
    "uid-quote": _raw(0x0020000E, "UI", "1.2.3'\"; DROP TABLE instances; --"),
    "uid-control": _raw(0x00080018, "UI", "1.2.\x01\x02"),
    "uid-long": _raw(0x0020000D, "UI", "1." * 60),
    "no-sop-uid": _edit(SOPInstanceUID=None),
    "no-modality": _edit(Modality=None),
    "no-pixels": _edit(PixelData=None),
    "rle-declared-raw": _rle_declared,
    "deep-sequence": _deep_sequence,
    "huge-text": _huge_text,
    "identity-clash": _clashing_identity,
    "bare-implicit": _implicit_without_meta,
    "not-dicom": _random_bytes,
    "broken-zip": _broken_zip,
}


def fuzz_corpus(count: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """``count`` (name, bytes) pairs cycling through every mutation, reproducible from ``seed``."""
    rng = random.Random(seed)
    kinds = list(MUTATIONS)
    corpus = []
    for n in range(count):
        kind = kinds[n % len(kinds)]
        corpus.append((f"{kind}-{n}", MUTATIONS[kind](random.Random(rng.randrange(2**32)))))
    return corpus
