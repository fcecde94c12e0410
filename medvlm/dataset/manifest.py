"""``manifest.jsonl``: one JSON object per study (files, findings, report text, split, provenance)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from medvlm.dataset.errors import DatasetError, ManifestNotFoundError
from medvlm.findings import Finding

MANIFEST = "manifest.jsonl"
CROSS_PATIENT = "test_cross_patient"  # IU test reports rendered on the CT patient held out of training
SPLITS = ("train", "validation", "test", CROSS_PATIENT)
TRAINABLE_SPLITS = ("train", "validation")  # the only splits training or tuning may read
SOURCES = ("iu", "template", "import", "correction")
VIEWS = ("frontal", "lateral")
OPTIONAL = ("provenance", "indication", "views")  # absent in manifests written before #22 item 3


@dataclass
class ManifestRecord:
    study_id: str
    study_instance_uid: str
    split: str
    files: list[Path]  # absolute when read back; relative to the dataset directory on disk
    findings: list[Finding]  # present and uncertain only; every other ontology label is absent
    findings_text: str
    impression: str
    report_source: str
    provenance: dict[str, Any] = field(default_factory=dict)
    indication: str | None = None  # the request's reason, de-identified (IU: the INDICATION section)
    views: list[str] | None = None  # per file, "frontal" / "lateral" (None: read from the DICOM attributes)

    def to_json(self, root: Path | None = None) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = [str(p.relative_to(root) if root and p.is_absolute() else p) for p in self.files]
        data["findings"] = [f.to_dict() for f in self.findings]
        for key in ("indication", "views"):  # left out when unset: older manifests hash as before
            if data[key] is None:
                del data[key]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], root: Path, where: str) -> ManifestRecord:
        missing = [k for k in cls.__dataclass_fields__ if k not in data and k not in OPTIONAL]
        if missing:
            raise DatasetError(f"{where}: manifest record lacks {missing}")
        if data["split"] not in SPLITS:
            raise DatasetError(f"{where}: split {data['split']!r}, expected one of {', '.join(SPLITS)}")
        try:
            findings = [Finding.from_dict(f) for f in data["findings"]]
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"{where}: bad finding: {exc}") from None
        files = [(root / f).resolve() for f in data["files"]]
        views = data.get("views")
        if views is not None and (
            not isinstance(views, list) or len(views) != len(files) or set(views) - set(VIEWS)
        ):
            raise DatasetError(
                f"{where}: views must list one of {', '.join(VIEWS)} per file ({len(files)}), got {views!r}"
            )
        indication = data.get("indication")
        return cls(
            study_id=str(data["study_id"]),
            study_instance_uid=str(data["study_instance_uid"]),
            split=data["split"],
            files=files,
            findings=findings,
            findings_text=str(data["findings_text"]),
            impression=str(data["impression"]),
            report_source=str(data["report_source"]),
            provenance=dict(data.get("provenance") or {}),
            indication=None if indication is None else str(indication),
            views=None if views is None else [str(v) for v in views],
        )


def write_record(fh: TextIO, record: ManifestRecord, root: Path) -> None:
    fh.write(json.dumps(record.to_json(root), sort_keys=True, separators=(",", ":")) + "\n")


def read_manifest(directory: Path) -> list[ManifestRecord]:
    """The records of ``directory/manifest.jsonl`` with files resolved to absolute paths."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise ManifestNotFoundError(
            f"{directory}: no {MANIFEST}; build one with `medvlm data build --out {directory}`"
        )
    records = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(data, dict):
                raise DatasetError(f"{path}:{number}: expected a JSON object, got {type(data).__name__}")
            records.append(ManifestRecord.from_json(data, directory.resolve(), f"{path}:{number}"))
    return records


def split_hash(directory: Path, split: str) -> str:
    """sha256 of the manifest lines of one split, in order: two builds that differ only in other splits
    (more train films, say) give the same films here, and a paired comparison on it is sound."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ManifestNotFoundError(f"{directory}: no {MANIFEST}")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for line in fh:
            if line.strip() and json.loads(line).get("split") == split:
                digest.update(line.rstrip(b"\r\n") + b"\n")
    return digest.hexdigest()


def manifest_hash(directory: Path) -> str:
    """sha256 of manifest.jsonl. The manifest names every file by its UIDs and carries the seed and render
    parameters of each film, so it pins the dataset without hashing every DICOM file."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ManifestNotFoundError(f"{directory}: no {MANIFEST}")
    return hashlib.sha256(path.read_bytes()).hexdigest()
