"""Memory-hostile input (issue 19 item 4): deep sequence nesting and archives that inflate past the total
limit are refused before anything expensive, with bounded memory (measured, not timed)."""

from __future__ import annotations

import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from medvlm.dicom.ingest import ingest_bytes
from medvlm.dicom.parse import parse_dataset
from medvlm.errors import LimitExceededError
from medvlm.settings import Settings
from tests.medvlm.dicom.deep_factory import deep_image

DEEP = [("defined lengths", False), ("undefined lengths", True)]


@pytest.mark.parametrize(("case", "undefined"), DEEP, ids=[c[0] for c in DEEP])
def test_deeply_nested_file_is_refused_at_ingest(
    settings: Settings, snap, case: str, undefined: bool  # type: ignore[no-untyped-def]
) -> None:
    data = deep_image(600, text_bytes=600, undefined=undefined)
    assert 20_000 < len(data) < 400_000  # the size the security test used
    before = snap(settings)
    tracemalloc.start()
    try:
        report = ingest_bytes("deep.dcm", data, settings=settings)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.ingested == 0 and len(report.rejected) == 1
    reason = report.rejected[0].reason
    assert "nested more than 32 levels" in reason or "Recursion" in reason
    assert peak < 16 * len(data) + 8 * 2**20, f"peak {peak / 2**20:.1f} MB"
    assert snap(settings) == before


def test_nesting_within_the_limit_is_ingested(settings: Settings) -> None:
    report = ingest_bytes("sr-like.dcm", deep_image(20, seed=3), settings=settings)
    assert report.ingested == 1, report.rejected


def test_depth_limit_is_a_setting() -> None:
    data = deep_image(10)
    assert parse_dataset(data, max_depth=10).Rows == 32
    with pytest.raises(LimitExceededError, match="nested more than 9 levels deep"):
        parse_dataset(data, max_depth=9)
    assert Settings().max_sequence_depth == 32


def _zip_of_copies(member: bytes, count: int) -> bytes:
    """``count`` members with the same compressed body (compressed once, so the test stays fast)."""
    packer = zlib.compressobj(1, zlib.DEFLATED, -15)
    body = packer.compress(member) + packer.flush()
    crc = zlib.crc32(member)
    local, central = bytearray(), bytearray()
    for i in range(count):
        name = f"m{i:05d}.dcm".encode()
        offset = len(local)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(body), len(member),
                             len(name), 0) + name + body
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(body),
                               len(member), len(name), 0, 0, 0, 0, 0, offset) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), len(local), 0)
    return bytes(local + central + end)


def test_archive_inflating_to_2_gib_is_refused_under_the_bomb_ratio(settings: Settings, snap) -> None:
    block = np.random.default_rng(0).bytes(8192)
    member = block * 128  # 1 MiB that compresses about 100x: under the bomb ratio of 200
    data = _zip_of_copies(member, 2048)
    assert len(member) * 2048 == 2 * 2**30 and len(member) / (len(data) / 2048) < settings.max_zip_ratio
    before = snap(settings)
    report = ingest_bytes("many.zip", data, settings=settings)
    assert report.ingested == 0 and len(report.rejected) == 1
    assert "expands to more than 1073741824 bytes" in report.rejected[0].reason
    assert snap(settings) == before


def test_implicit_vr_nesting_is_found_too(settings: Settings) -> None:
    """Implicit VR has no 'SQ' on the wire: the dictionary (or an undefined length) says what nests."""
    from pydicom.dataset import Dataset
    from pydicom.uid import ImplicitVRLittleEndian

    from tests.medvlm.dicom.dicom_factory import make_image, to_bytes

    ds = make_image(seed=5)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    inner = Dataset()
    inner.CodeValue = "leaf"
    for _ in range(40):
        outer = Dataset()
        outer.ContentSequence = [inner]
        inner = outer
    ds.ContentSequence = [inner]
    report = ingest_bytes("implicit.dcm", to_bytes(ds), settings=settings)
    assert report.ingested == 0 and "nested more than 32 levels" in report.rejected[0].reason
