"""A split's own hash: builds that differ only in other splits pin the same test films."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medvlm.dataset.errors import ManifestNotFoundError
from medvlm.dataset.manifest import MANIFEST, manifest_hash, split_hash


def _build(folder: Path, lines: list[dict]) -> Path:
    folder.mkdir()
    (folder / MANIFEST).write_text("".join(json.dumps(x) + "\n" for x in lines))
    return folder


def test_more_train_films_leave_the_test_split_hash_alone(tmp_path: Path) -> None:
    test = [{"study_id": f"t{i}", "split": "test", "files": [f"dicom/{i}.dcm"]} for i in range(3)]
    train = [{"study_id": "a", "split": "train", "files": ["dicom/a.dcm"]}]
    one = _build(tmp_path / "one", [*train, *test])
    more = _build(tmp_path / "more", [*train, *test, {"study_id": "b-os1m", "split": "train", "files": []}])
    assert manifest_hash(one) != manifest_hash(more)
    assert split_hash(one, "test") == split_hash(more, "test")
    assert split_hash(one, "train") != split_hash(more, "train")
    other = _build(tmp_path / "other", [*train, *test[:2], {**test[2], "files": ["dicom/x.dcm"]}])
    assert split_hash(other, "test") != split_hash(one, "test")  # another film under the same study id
    with pytest.raises(ManifestNotFoundError):
        split_hash(tmp_path / "nowhere", "test")
