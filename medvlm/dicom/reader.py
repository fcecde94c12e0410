"""Turn the paths a user names (files, folders, ``.zip`` archives) into sources of bytes, safely.

Nothing here parses DICOM; it only decides which byte blobs to look at and refuses the dangerous ones
before they are read: files over the size limit, symbolic links inside folders, and archives with a
path-traversal name, a link member, too many members or a decompression-bomb ratio. An unsafe archive is
refused whole (nothing from it is ingested), because it is evidence of a hostile upload.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from medvlm.errors import DicomError, LimitExceededError, MedVLMError, UnsafeArchiveError
from medvlm.settings import Settings

# Ratios of tiny members say nothing (a blank 1 KB image compresses 500x); bombs are about size.
_BOMB_RATIO_FLOOR_BYTES = 1024 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


@dataclass(frozen=True)
class Rejection:
    path: str
    reason: str
    transient: bool = False  # the machine's trouble (disk, database busy), not the file's: a retry may work


@dataclass(frozen=True)
class Source:
    """One candidate DICOM file: ``name`` is what reports show, ``directory`` anchors DICOMDIR references."""

    name: str
    size: int
    read: Callable[[], bytes]
    directory: Path | None = None


def is_zip_bytes(head: bytes) -> bool:
    return head.startswith(_ZIP_MAGIC) or head.startswith(_EMPTY_ZIP_MAGIC)


def _file_source(path: Path, settings: Settings) -> Source:
    size = path.stat().st_size
    if size > settings.max_file_bytes:
        raise LimitExceededError(
            f"file is {size} bytes, over the limit of {settings.max_file_bytes} (MEDVLM_MAX_FILE_BYTES)")
    return Source(name=str(path), size=size, read=path.read_bytes, directory=path.parent)


def _looks_like_zip(path: Path) -> bool:
    if path.suffix.lower() == ".zip":
        return True
    try:
        with path.open("rb") as handle:
            return is_zip_bytes(handle.read(4))
    except OSError:
        return False


def _unsafe_member_name(name: str) -> bool:
    if not name or "\x00" in name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    return ".." in PurePosixPath(name.replace("\\", "/")).parts


def check_archive(archive: zipfile.ZipFile, label: str, settings: Settings) -> list[zipfile.ZipInfo]:
    """The archive's file members, or an error for the whole archive if any member is unsafe."""
    infos = archive.infolist()
    if len(infos) > settings.max_zip_members:
        raise LimitExceededError(
            f"{label}: {len(infos)} members, over the limit of {settings.max_zip_members}")
    total = 0
    members = []
    for info in infos:
        if _unsafe_member_name(info.filename):
            raise UnsafeArchiveError(f"{label}: member name {info.filename!r} escapes the archive "
                                     "(path traversal); archive refused")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchiveError(f"{label}: member {info.filename!r} is a symbolic link; archive refused")
        if info.is_dir():
            continue
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _BOMB_RATIO_FLOOR_BYTES and ratio > settings.max_zip_ratio:
            raise UnsafeArchiveError(
                f"{label}: member {info.filename!r} expands {ratio:.0f}x ({info.file_size} bytes), over the "
                f"ratio limit of {settings.max_zip_ratio} (zip bomb); archive refused")
        total += info.file_size
        if total > settings.max_zip_total_bytes:
            raise UnsafeArchiveError(
                f"{label}: expands to more than {settings.max_zip_total_bytes} bytes "
                "(MEDVLM_MAX_ZIP_TOTAL_BYTES, zip bomb); archive refused")
        members.append(info)
    return members


def _member_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        # zipfile stops at the declared size and checks the CRC, so a lying header cannot inflate us.
        try:
            with archive.open(info) as handle:
                return handle.read()
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
            # corrupt data, bad CRC, encrypted or unsupported compression
            raise DicomError(f"zip member cannot be read: {exc}") from exc
    return read


def iter_zip(archive: zipfile.ZipFile, label: str, settings: Settings) -> Iterator[Source | Rejection]:
    try:
        members = check_archive(archive, label, settings)
    except MedVLMError as exc:
        yield Rejection(label, str(exc))
        return
    for info in members:
        name = f"{label}!{info.filename}"
        if info.file_size > settings.max_file_bytes:
            yield Rejection(name, f"member is {info.file_size} bytes, over the limit of "
                                  f"{settings.max_file_bytes} (MEDVLM_MAX_FILE_BYTES)")
        elif info.filename.lower().endswith(".zip"):
            yield Rejection(name, "nested archive: archives inside archives are not opened")
        else:
            yield Source(name=name, size=info.file_size, read=_member_reader(archive, info))


def _open_zip(path_or_bytes: Path | bytes, label: str) -> zipfile.ZipFile:
    try:
        if isinstance(path_or_bytes, bytes):
            return zipfile.ZipFile(io.BytesIO(path_or_bytes))
        return zipfile.ZipFile(path_or_bytes)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnsafeArchiveError(f"{label}: not a readable zip archive ({exc})") from exc


def _iter_archive(source: Path | bytes, label: str, size: int, settings: Settings,
                  ) -> Iterator[Source | Rejection]:
    """A zip on disk or in memory, member by member; one over the upload limit or unreadable is refused."""
    if size > settings.max_upload_bytes:
        yield Rejection(label, f"archive is over the limit of {settings.max_upload_bytes} bytes")
        return
    try:
        archive = _open_zip(source, label)
    except MedVLMError as exc:
        yield Rejection(label, str(exc))
        return
    with archive:
        yield from iter_zip(archive, label, settings)


def _walk(folder: Path) -> Iterator[Path]:
    """Files under ``folder`` in a stable order; links are yielded (and refused by the caller)."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        base = Path(root)
        for name in sorted(files) + sorted(d for d in dirs if (base / d).is_symlink()):
            yield base / name


def iter_sources(paths: list[Path], settings: Settings) -> Iterator[Source | Rejection]:
    """Every candidate file under ``paths`` (recursing into folders and zips), or why it was refused.

    A path the user names explicitly may be a symbolic link (that is their choice); links found while
    walking a folder are refused, since they can point anywhere on the machine.
    """
    for path in paths:
        if not path.exists():
            yield Rejection(str(path), "no such file or folder")
        elif path.is_dir():
            for child in _walk(path):
                yield from _one_file(child, settings, inside_folder=True)
        else:
            yield from _one_file(path, settings, inside_folder=False)


def _one_file(path: Path, settings: Settings, *, inside_folder: bool) -> Iterator[Source | Rejection]:
    if inside_folder and path.is_symlink():
        yield Rejection(str(path), "symbolic link inside a folder: not followed")
        return
    if not path.is_file():
        yield Rejection(str(path), "not a regular file")
        return
    if _looks_like_zip(path):
        yield from _iter_archive(path, str(path), path.stat().st_size, settings)
        return
    try:
        yield _file_source(path, settings)
    except (MedVLMError, OSError) as exc:
        yield Rejection(str(path), str(exc))


def iter_bytes(name: str, data: bytes, settings: Settings) -> Iterator[Source | Rejection]:
    """Sources for an upload held in memory: a zip archive or a single DICOM file."""
    if is_zip_bytes(data[:4]) or name.lower().endswith(".zip"):
        yield from _iter_archive(data, name, len(data), settings)
        return
    if len(data) > settings.max_file_bytes:
        yield Rejection(name, f"file is {len(data)} bytes, over the limit of {settings.max_file_bytes} "
                              "(MEDVLM_MAX_FILE_BYTES)")
        return
    yield Source(name=name, size=len(data), read=lambda: data)


def iter_named_file(name: str, path: Path, settings: Settings) -> Iterator[Source | Rejection]:
    """An upload spooled to ``path``, reported as ``name``: a zip read member by member from disk, or a
    single DICOM file read when its turn comes (never the whole upload in memory)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(4)
    if is_zip_bytes(head) or name.lower().endswith(".zip"):
        yield from _iter_archive(path, name, size, settings)
        return
    if size > settings.max_file_bytes:
        yield Rejection(name, f"file is {size} bytes, over the limit of {settings.max_file_bytes} "
                              "(MEDVLM_MAX_FILE_BYTES)")
        return
    yield Source(name=name, size=size, read=path.read_bytes)
