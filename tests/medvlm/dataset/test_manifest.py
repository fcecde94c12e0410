"""Manifest reading refuses what it cannot trust, with the line that is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medvlm.dataset.errors import DatasetError, ManifestNotFoundError
from medvlm.dataset.manifest import MANIFEST, ManifestRecord, manifest_hash, read_manifest, write_record
from medvlm.findings import Finding, Laterality

GOOD = {
    "study_id": "SYN-0-0",
    "study_instance_uid": "1.2.3",
    "split": "train",
    "files": ["dicom/1.2.3/1.2.4.dcm"],
    "findings": [{"label": "pleural_effusion", "presence": "present", "laterality": "left"}],
    "findings_text": "Small left effusion.",
    "impression": "Left effusion.",
    "report_source": "template",
    "provenance": {"seed": 0},
}


def write(tmp_path: Path, *lines: str) -> Path:
    (tmp_path / MANIFEST).write_text("\n".join(lines) + "\n")
    return tmp_path


def test_reads_a_record_and_resolves_files(tmp_path: Path) -> None:
    (record,) = read_manifest(write(tmp_path, json.dumps(GOOD)))
    assert record.files == [(tmp_path / "dicom/1.2.3/1.2.4.dcm").resolve()]
    assert record.findings == [Finding("pleural_effusion", laterality=Laterality.LEFT)]


def test_write_then_read_gives_the_same_record(tmp_path: Path) -> None:
    record = ManifestRecord.from_json(GOOD, tmp_path.resolve(), "test")
    with (tmp_path / MANIFEST).open("w") as fh:
        write_record(fh, record, tmp_path.resolve())
    assert read_manifest(tmp_path) == [record]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "split"}), "lacks \\['split'\\]"),
        (json.dumps({**GOOD, "split": "holdout"}), "split 'holdout'"),
        (json.dumps({**GOOD, "findings": [{"label": "x", "colour": "red"}]}), "bad finding"),
    ],
)
def test_bad_lines_are_refused_with_their_line_number(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message) as info:
        read_manifest(write(tmp_path, json.dumps(GOOD), line))
    assert f"{MANIFEST}:2" in str(info.value)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestNotFoundError, match="data build"):
        read_manifest(tmp_path)
    with pytest.raises(ManifestNotFoundError):
        manifest_hash(tmp_path)


def test_hash_follows_the_content(tmp_path: Path) -> None:
    first = manifest_hash(write(tmp_path, json.dumps(GOOD)))
    assert first == manifest_hash(tmp_path) and len(first) == 64
    assert manifest_hash(write(tmp_path, json.dumps({**GOOD, "impression": "Other."}))) != first
