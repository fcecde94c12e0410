"""Bad input: each case is refused with its own reason and leaves the store and the index untouched."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from medvlm.dicom.ingest import ingest_bytes, ingest_paths
from medvlm.settings import Settings
from tests.medvlm.dicom.dicom_factory import make_image, to_bytes


def _zero_byte() -> bytes:
    return b""


def _truncated() -> bytes:
    data = to_bytes(make_image(rows=64, columns=64))
    return data[: len(data) - 1000]  # cut inside the pixel data


def _random_bytes() -> bytes:
    return np.random.default_rng(7).bytes(4096)


def _header_without_pixels() -> bytes:
    ds = make_image()
    del ds.PixelData
    return to_bytes(ds)


def _non_dicom_uid() -> bytes:
    ds = make_image()
    ds.StudyInstanceUID = "study-one"  # a UID the API could never open: refused at ingest
    return to_bytes(ds)


def _huge_declared() -> bytes:
    ds = make_image(rows=4, columns=4)
    del ds.Rows, ds.Columns
    # Rows/Columns are US (max 65535) in the dictionary; a hostile writer can still declare them as UL.
    ds.add_new(0x00280010, "UL", 100_000)
    ds.add_new(0x00280011, "UL", 100_000)
    return to_bytes(ds)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _zip_traversal() -> bytes:
    return _zip({"ok.dcm": to_bytes(make_image(seed=1)), "../../etc/evil.dcm": to_bytes(make_image(seed=2))})


def _zip_bomb() -> bytes:
    return _zip({"ok.dcm": to_bytes(make_image(seed=3)), "bomb.dcm": bytes(16 * 1024 * 1024)})


def _zip_symlink() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ok.dcm", to_bytes(make_image(seed=4)))
        link = zipfile.ZipInfo("link.dcm")
        link.external_attr = (0o120777 << 16)
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def _zip_corrupt_member() -> bytes:
    data = bytearray(_zip({"x.dcm": to_bytes(make_image(rows=64, columns=64, seed=5))}))
    data[100:110] = bytes(10)  # inside the compressed stream: bad data or bad CRC
    return bytes(data)


CASES: list[tuple[str, str, Callable[[], bytes], str]] = [
    ("zero-byte", "empty.dcm", _zero_byte, r"empty file \(0 bytes\)"),
    ("truncated", "cut.dcm", _truncated, r"pixel data cannot be decoded.*less than expected"),
    ("random bytes", "noise.dcm", _random_bytes, r"not a DICOM file"),
    ("header without pixel data", "nopix.dcm", _header_without_pixels, r"without Pixel Data"),
    ("non-DICOM study UID", "uid.dcm", _non_dicom_uid,
     r"StudyInstanceUID is not a DICOM UID \(digits and dots only\): 'study-one'"),
    ("declared 100000x100000", "huge.dcm", _huge_declared,
     r"100000x100000 .* = 10000000000 pixels, over the limit .*not decoded"),
    ("zip path traversal", "traversal.zip", _zip_traversal, r"'\.\./\.\./etc/evil\.dcm' escapes the archive"),
    ("zip bomb", "bomb.zip", _zip_bomb, r"expands \d+x .*zip bomb"),
    ("zip symlink member", "link.zip", _zip_symlink, r"'link\.dcm' is a symbolic link"),
    ("zip corrupt member", "corrupt.zip", _zip_corrupt_member, r"zip member cannot be read"),
]


@pytest.mark.parametrize("entry", ["paths", "bytes"])
@pytest.mark.parametrize(("case", "name", "build", "reason"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_rejected_and_changes_nothing(settings: Settings, workdir: Path, snap, entry: str,
                                                   case: str, name: str, build: Callable[[], bytes],
                                                   reason: str) -> None:
    baseline = write_good(workdir)
    assert ingest_paths([baseline], settings=settings).ingested == 1
    before = snap(settings)
    data = build()
    if entry == "paths":
        target = workdir / name
        target.write_bytes(data)
        report = ingest_paths([target], settings=settings)
    else:
        report = ingest_bytes(name, data, settings=settings)
    assert (report.ingested, report.duplicates, report.conflicts) == (0, 0, 0)
    assert len(report.rejected) == 1, report.rejected
    assert re.search(reason, report.rejected[0].reason), report.rejected[0].reason
    assert name in report.rejected[0].path  # the archive, or "archive!member" for a member
    assert snap(settings) == before


def test_file_over_the_size_limit_is_not_read(settings: Settings, workdir: Path, snap) -> None:
    small = settings.model_copy(update={"max_file_bytes": 1000})
    target = write_good(workdir)
    before = snap(settings)
    report = ingest_paths([target], settings=small)
    assert report.rejected and "over the limit of 1000" in report.rejected[0].reason
    assert snap(settings) == before


def test_too_many_zip_members_refuses_the_archive(settings: Settings, snap) -> None:
    few = settings.model_copy(update={"max_zip_members": 2})
    data = _zip({f"{i}.dcm": to_bytes(make_image(seed=i)) for i in range(3)})
    before = snap(settings)
    report = ingest_bytes("many.zip", data, settings=few)
    assert report.ingested == 0 and "3 members, over the limit of 2" in report.rejected[0].reason
    assert snap(settings) == before


def write_good(folder: Path) -> Path:
    target = folder / "good.dcm"
    target.write_bytes(to_bytes(make_image(seed=99)))
    return target
