"""Content-addressed store of original DICOM files: ``<root>/ab/cd/<sha256>.dcm``.

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
        digest = sha256 or sha256_hex(data)
        final = self.path(digest)
        if final.is_file() and final.stat().st_size == len(data):
            return final
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
        return final

    def verify(self, sha256: str) -> bool:
        """True when the stored file exists and still hashes to its name."""
        path = self.path(sha256)
        return path.is_file() and sha256_hex(path.read_bytes()) == sha256

    def files(self) -> list[Path]:
        """Every stored original (temporary files excluded), for checks and maintenance."""
        if not self.root.exists():
            return []
        return sorted(p for p in self.root.glob("*/*/*.dcm") if p.is_file())
