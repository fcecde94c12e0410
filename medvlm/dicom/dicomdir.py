"""DICOMDIR: the files a media directory references, resolved inside its own folder only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydicom.dataset import Dataset

from medvlm.dicom.reader import Rejection, Source, iter_sources
from medvlm.settings import Settings


def referenced_files(ds: Dataset) -> list[list[str]]:
    """The Referenced File ID components of every directory record that names a file."""
    refs = []
    for record in ds.get("DirectoryRecordSequence", []):
        file_id = record.get("ReferencedFileID")
        if file_id is None or file_id == "":
            continue
        parts = [str(file_id)] if isinstance(file_id, str) else [str(p) for p in file_id]
        refs.append(parts)
    return refs


def dicomdir_sources(ds: Dataset, source: Source, settings: Settings) -> Iterator[Source | Rejection]:
    assert source.directory is not None
    root = source.directory.resolve()
    for parts in referenced_files(ds):
        shown = "\\".join(parts)
        if any(p in ("", ".", "..") or "/" in p or "\\" in p for p in parts):
            yield Rejection(f"{source.name}:{shown}", "DICOMDIR reference escapes its folder; not followed")
            continue
        target = root.joinpath(*parts)
        if not target.exists():  # media written on another OS may differ in case
            target = _case_insensitive(root, parts) or target
        if not target.resolve().is_relative_to(root):
            yield Rejection(str(target), "DICOMDIR reference resolves outside its folder; not followed")
            continue
        if not target.exists():
            yield Rejection(str(target), f"referenced by DICOMDIR {source.name} but missing")
            continue
        yield from iter_sources([target], settings)


def _case_insensitive(root: Path, parts: list[str]) -> Path | None:
    current = root
    for part in parts:
        if not current.is_dir():
            return None
        matches = [child for child in current.iterdir() if child.name.lower() == part.lower()]
        if not matches:
            return None
        current = matches[0]
    return current
