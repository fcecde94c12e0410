"""Content-addressed store of original DICOM files: ``<root>/ab/cd/<sha256>.dcm``.

The address is the SHA-256 of the data set, *not* of the whole file: the file meta header (group 0002)
says how the bytes travelled (source AE, implementation, transfer details) and differs between an HTTP
upload and a C-STORE of the same instance, which must still be one instance (``content_sha256``).

A file reaches its final name only whole: it is written to a temporary file in the same folder,
fsynced, renamed over (atomic on POSIX), and the folder is fsynced, all before the database row that
points at it is committed. A crash therefore leaves at worst an orphan file, never a row without its
file or a half-written file. Two processes storing the same bytes both rename identical content onto
the same name, which is harmless.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from medvlm.errors import DicomError
from medvlm.settings import Settings, get_settings

_HEX = set("0123456789abcdef")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dataset_offset(data: bytes) -> int:
    """Where the data set starts: after the preamble and the file meta group (0002), always explicit VR
    little endian (PS3.10 7.1). Walked element by element, since a group length may be absent or wrong."""
    offset = 132 if len(data) >= 132 and data[128:132] == b"DICM" else 0
    while offset + 8 <= len(data) and int.from_bytes(data[offset:offset + 2], "little") == 0x0002:
        vr = data[offset + 4:offset + 6]
        if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR", b"OD", b"OL", b"OV"):
            if offset + 12 > len(data):
                break
            length = int.from_bytes(data[offset + 8:offset + 12], "little")
            header = 12
        else:
            length = int.from_bytes(data[offset + 6:offset + 8], "little")
            header = 8
        if length == 0xFFFFFFFF or offset + header + length > len(data):
            break  # not a meta group we can walk: hash from here
        offset += header + length
    return offset


def content_sha256(data: bytes) -> str:
    """The instance's content address: SHA-256 of the data set without the file meta header."""
    return hashlib.sha256(memoryview(data)[dataset_offset(data):]).hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StudyStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> StudyStore:
        return cls((settings or get_settings()).store_dir)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not set(sha256) <= _HEX:
            raise DicomError(f"not a sha256 hex digest: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.dcm"

    def contains(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes, sha256: str | None = None) -> Path:
        """Store ``data`` durably under its hash (no-op when already present); returns the final path."""
        return self.put_new(data, sha256)[0]

    def put_new(self, data: bytes, sha256: str | None = None) -> tuple[Path, bool]:
        """``put`` that also says whether this call created the file (False: it was already there), so a
        caller whose database commit then fails removes only what it wrote."""
        digest = sha256 or content_sha256(data)
        final = self.path(digest)
        if final.is_file():  # whole by construction (renamed into place); same data set, same name
            return final, False
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp_name, 0o444)  # originals are immutable once stored
            os.replace(tmp_name, final)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)
        return final, True

    def remove(self, sha256: str) -> None:
        """Delete a stored original (an orphan whose rows were never committed)."""
        path = self.path(sha256)
        if path.exists():
            path.chmod(0o644)
            path.unlink(missing_ok=True)

    def verify(self, sha256: str) -> bool:
        """True when the stored file exists and still hashes to its name."""
        path = self.path(sha256)
        return path.is_file() and content_sha256(path.read_bytes()) == sha256

    def files(self) -> list[Path]:
        """Every stored original (temporary files excluded), for checks and maintenance."""
        if not self.root.exists():
            return []
        return sorted(p for p in self.root.glob("*/*/*.dcm") if p.is_file())
