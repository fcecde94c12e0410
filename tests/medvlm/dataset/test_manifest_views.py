"""The manifest's optional ``indication`` and ``views``: read when present, absent from older manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medvlm.dataset.errors import DatasetError
from medvlm.dataset.manifest import MANIFEST, ManifestRecord, read_manifest, write_record

BASE = {
    "study_id": "s1", "study_instance_uid": "1.2.3", "split": "train",
    "files": ["dicom/1.2.3/a.dcm", "dicom/1.2.3/b.dcm"], "findings": [],
    "findings_text": "Clear.", "impression": "Normal.", "report_source": "iu",
}


def _read(tmp_path: Path, **extra: object) -> ManifestRecord:
    (tmp_path / MANIFEST).write_text(json.dumps({**BASE, **extra}) + "\n")
    return read_manifest(tmp_path)[0]


def test_an_older_manifest_reads_without_them(tmp_path: Path) -> None:
    record = _read(tmp_path)
    assert record.indication is None and record.views is None


def test_indication_and_views_read_back(tmp_path: Path) -> None:
    record = _read(tmp_path, indication="Cough", views=["frontal", "lateral"])
    assert record.indication == "Cough" and record.views == ["frontal", "lateral"]


@pytest.mark.parametrize(
    "views",
    [
        pytest.param(["frontal"], id="one-for-two-files"),
        pytest.param(["frontal", "oblique"], id="unknown-view"),
        pytest.param("frontal", id="not-a-list"),
    ],
)
def test_bad_views_are_refused(tmp_path: Path, views: object) -> None:
    with pytest.raises(DatasetError, match=r"views must list one of frontal, lateral per file \(2\)"):
        _read(tmp_path, views=views)


@pytest.mark.parametrize(
    ("extra", "keys"),
    [
        pytest.param({}, set(), id="unset-left-out"),
        pytest.param({"indication": "Dyspnea", "views": ["frontal", "lateral"]}, {"indication", "views"},
                     id="set-written"),
    ],
)
def test_written_only_when_set(tmp_path: Path, extra: dict, keys: set[str]) -> None:
    """Unset, the keys are not written: a manifest built before them keeps its bytes and its hash."""
    record = _read(tmp_path, **extra)
    out = tmp_path / "out.jsonl"
    with out.open("w") as fh:
        write_record(fh, record, tmp_path)
    written = json.loads(out.read_text())
    assert {"indication", "views"} & set(written) == keys
    assert {k: written[k] for k in keys} == extra
