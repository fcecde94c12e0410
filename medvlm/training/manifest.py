"""Training's view of a dataset's records. The manifest has one reader and one hash, both in
``medvlm.dataset.manifest`` (``read_manifest``, ``manifest_hash``); this module only converts records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medvlm.dataset.manifest import read_manifest
from medvlm.dataset.masks import masks_path
from medvlm.findings import Finding
from medvlm.training.study import split_views


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
    indication: str = ""
    views: list[str] | None = None  # per file (manifest "views"); None: read from the DICOM attributes
    lateral: Path | None = None  # the lateral film (files[0] is always the frontal one)
    masks: Path | None = None  # the frontal film's masks (synthetic builds: medvlm.dataset.masks)


def _convert(item: Any, directory: Path | None = None) -> Record:
    findings = [f if isinstance(f, Finding) else Finding.from_dict(f) for f in item.findings]
    views = getattr(item, "views", None)
    files, lateral = split_views([Path(p) for p in item.files], views, f"study {item.study_id}")
    return Record(
        study_id=str(item.study_id),
        study_instance_uid=str(item.study_instance_uid),
        split=str(item.split),
        files=files,
        findings=findings,
        findings_text=item.findings_text or "",
        impression=item.impression or "",
        report_source=str(item.report_source or "template"),
        provenance=dict(item.provenance or {}),
        indication=str(getattr(item, "indication", None) or ""),
        views=views,
        lateral=lateral,
        masks=masks_path(dict(item.provenance or {}), directory) if directory is not None else None,
    )


def read_records(directory: Path) -> list[Record]:
    """The records of a dataset directory as training reads them (``medvlm.dataset.manifest`` parses)."""
    return [_convert(item, directory) for item in read_manifest(directory)]
