"""Records of a ``medvlm data build`` directory (``manifest.jsonl``, docs/ARCHITECTURE.md "Dataset").

Uses ``medvlm.dataset.manifest.read_manifest`` when the dataset package is installed; the local reader
below follows the same documented format, so training also reads directories written elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medvlm.errors import ConfigError, NotFoundError
from medvlm.findings import Finding


@dataclass
class Record:
    study_id: str
    study_instance_uid: str
    split: str
    files: list[Path]
    findings: list[Finding]
    findings_text: str = ""
    impression: str = ""
    report_source: str = "template"
    provenance: dict[str, Any] = field(default_factory=dict)


def _convert(item: Any) -> Record:
    findings = [f if isinstance(f, Finding) else Finding.from_dict(f) for f in item.findings]
    return Record(
        study_id=str(item.study_id),
        study_instance_uid=str(item.study_instance_uid),
        split=str(item.split),
        files=[Path(p) for p in item.files],
        findings=findings,
        findings_text=item.findings_text or "",
        impression=item.impression or "",
        report_source=str(item.report_source or "template"),
        provenance=dict(item.provenance or {}),
    )


def _read_local(directory: Path) -> list[Record]:
    manifest = directory / "manifest.jsonl"
    if not manifest.is_file():
        raise NotFoundError(f"{manifest} does not exist")
    records = []
    for n, line in enumerate(manifest.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            data["files"] = [str((directory / f).resolve()) for f in data["files"]]
            data["findings"] = [Finding.from_dict(f) for f in data.get("findings", [])]
            records.append(_convert(_Obj(data)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{manifest} line {n} is not a valid manifest record: {exc}") from None
    return records


class _Obj:
    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update({k: data.get(k) for k in Record.__dataclass_fields__})


def read_records(directory: Path) -> list[Record]:
    try:
        from medvlm.dataset.manifest import read_manifest
    except ImportError:
        return _read_local(directory)
    return [_convert(item) for item in read_manifest(directory)]


def manifest_sha256(directory: Path) -> str:
    path = directory / "manifest.jsonl"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
