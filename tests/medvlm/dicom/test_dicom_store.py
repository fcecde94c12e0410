"""The content-addressed store: names by hash, whole files only, idempotent, read-only originals."""

from __future__ import annotations

from pathlib import Path

import pytest

from medvlm.dicom.store import StudyStore
from medvlm.dicom.store import content_sha256 as sha256_hex
from medvlm.errors import DicomError


def test_put_names_the_file_by_its_hash(tmp_path: Path) -> None:
    store = StudyStore(tmp_path / "store")
    data = b"DICM" * 100
    digest = sha256_hex(data)
    path = store.put(data)
    assert path == tmp_path / "store" / digest[:2] / digest[2:4] / f"{digest}.dcm"
    assert path.read_bytes() == data and store.verify(digest) and store.contains(digest)
    assert not path.stat().st_mode & 0o222  # originals are read-only
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    assert store.put(data) == path and store.files() == [path]


def test_verify_detects_a_damaged_file(tmp_path: Path) -> None:
    store = StudyStore(tmp_path)
    path = store.put(b"original bytes")
    path.chmod(0o644)
    path.write_bytes(b"damaged bytes!")
    assert not store.verify(sha256_hex(b"original bytes"))


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    store = StudyStore(tmp_path)
    with pytest.raises(TypeError):
        store.put("not bytes", sha256="0" * 64)  # type: ignore[arg-type]
    assert store.files() == [] and not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("bad", ["", "abc", "../" + "0" * 61, "G" * 64])
def test_path_refuses_what_is_not_a_digest(tmp_path: Path, bad: str) -> None:
    with pytest.raises(DicomError, match="not a sha256 hex digest"):
        StudyStore(tmp_path).path(bad)
