"""Signed corrections -> a de-identified training dataset (``manifest.jsonl`` + DICOM) for curriculum stage 3.

This is the one door through which clinical data becomes training data. For every signed report: the
study's images are de-identified (``compliance.deid``; a study whose pixels may carry burned-in text is
skipped and named), the FINAL text and findings and the model's ORIGINAL draft are de-identified with
everything the database knows about the patient and staff (names, ids, accession) plus the text patterns,
and one manifest record is written in the dataset format ``medvlm.dataset.manifest`` reads. Splits follow
the project's hash rule on the *new* study UID. The export is built in a temporary folder and moved into
place only after its audit row has committed, so an unaudited export never appears.

Run: ``python -m medvlm.service.exports.corrections OUT_DIR --key-file KEY`` (the key: at least 16
bytes, kept by the privacy officer; the same key gives the same pseudonyms, so re-exports line up).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from medvlm.compliance.audit import record
from medvlm.compliance.deid import DeidOptions, UidMapper, deidentify_file
from medvlm.compliance.deid_profile import METHOD
from medvlm.compliance.deid_text import deidentify_text
from medvlm.compliance.errors import ComplianceError, DeidentificationError
from medvlm.corpus.iu import iu_split
from medvlm.dicom.study_order import study_instances
from medvlm.findings import Finding, Presence
from medvlm.service.statuses import ReportStatus

MANIFEST = "manifest.jsonl"


class CorrectionsExportError(ComplianceError):
    """An export that cannot start (target folder not empty, unreadable key)."""


@dataclass
class CorrectionsExport:
    directory: Path
    exported: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (study pseudonym, reason)
    manifest_sha256: str = ""

    def summary(self) -> str:
        lines = [f"exported {self.exported} signed corrections to {self.directory} "
                 f"(manifest sha256 {self.manifest_sha256[:16]}...)"]
        lines += [f"skipped {who}: {why}" for who, why in self.skipped]
        return "\n".join(lines)


def split_for(study_uid: str) -> str:
    """The project's split rule (DESIGN.md: sha256 % 10 in 0-6 train, 7 validation, 8-9 test), the one
    the IU corpus uses, applied to the pseudonymous study UID."""
    return iu_split(study_uid)


def _clean_findings(raw: list[dict[str, Any]], clean: Any) -> list[dict[str, Any]]:
    findings = [Finding.from_dict(f) for f in raw]
    out = []
    for f in findings:
        if f.presence is Presence.ABSENT:
            continue  # the manifest lists present and uncertain findings only
        data = f.to_dict()
        if f.evidence:
            data["evidence"] = clean(f.evidence)
        data.pop("extra", None)
        out.append(data)
    return out


def _study_rows(session: Session, study_uid: str) -> tuple[Any, Any, list[Any]]:
    from medvlm.db.models import Patient, Study

    study = session.get(Study, study_uid)
    patient = session.get(Patient, study.patient_pk) if study else None
    instances = [instance for instance, _series in session.exec(study_instances(study_uid)).all()]
    return study, patient, instances


def _known_phi(session: Session, report: Any, study: Any, patient: Any) -> tuple[list[str], list[str]]:
    from medvlm.service.db.tables import Addendum, ReportVersion

    authors = session.exec(select(ReportVersion.author).where(ReportVersion.report_id == report.id)).all()
    add_authors = session.exec(select(Addendum.author).where(Addendum.report_id == report.id)).all()
    names = [report.signed_by or "", *authors, *add_authors]
    identifiers = [report.study_instance_uid]
    if study is not None:
        names.append(study.referring_physician)
        identifiers += [study.accession_number, study.study_id]
    if patient is not None:
        names.append(patient.name)
        identifiers.append(patient.patient_id)
    return [n for n in names if n], [i for i in identifiers if i]


def _export_one(session: Session, report: Any, root: Path, key: bytes, options: DeidOptions,
                result: CorrectionsExport) -> dict[str, Any] | None:
    mapper = UidMapper(key)
    new_study = mapper(report.study_instance_uid)
    pseudonym = f"corr-{mapper.pseudonym(report.study_instance_uid)}"
    study, patient, instances = _study_rows(session, report.study_instance_uid)
    if not instances:
        result.skipped.append((pseudonym, "no stored images"))
        return None
    files = []
    try:
        for inst in instances:
            relative = Path("dicom") / new_study / f"{mapper(inst.sop_instance_uid)}.dcm"
            deidentify_file(Path(inst.path), root / relative, key, options)
            files.append(str(relative))
    except DeidentificationError as exc:
        shutil.rmtree(root / "dicom" / new_study, ignore_errors=True)
        result.skipped.append((pseudonym, str(exc).replace(report.study_instance_uid, new_study)))
        return None
    names, identifiers = _known_phi(session, report, study, patient)

    def clean(text: str) -> str:
        return deidentify_text(text or "", names=names, identifiers=identifiers)

    original = report.original or {}
    return {
        "study_id": pseudonym, "study_instance_uid": new_study, "split": split_for(new_study), "files": files,
        "findings": _clean_findings(report.findings, clean), "findings_text": clean(report.findings_text),
        "impression": clean(report.impression), "report_source": "correction",
        "provenance": {
            "source": "signed corrections", "model_version": report.model_version, "deidentification": METHOD,
            "original": {"findings": _clean_findings(original.get("findings", []), clean),
                         "findings_text": clean(original.get("findings_text", "")),
                         "impression": clean(original.get("impression", ""))},
            "changed": (original.get("findings_text"), original.get("impression"), original.get("findings"))
            != (report.findings_text, report.impression, report.findings),
        },
    }


def export_corrections(out_dir: Path, key: bytes, *, engine: Engine | None = None, actor: str = "system",
                       options: DeidOptions | None = None) -> CorrectionsExport:
    """Write every signed report as a de-identified training record under ``out_dir`` (must be new/empty)."""
    from medvlm.db import get_engine, session_scope
    from medvlm.service.db.tables import Report

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise CorrectionsExportError(f"{out_dir} is not empty; export into a new folder")
    UidMapper(key)  # checks the key before any work
    if options is None:
        from medvlm.settings import get_settings

        options = DeidOptions(accept_unknown_burned_in=get_settings().deid_accept_unknown_burned_in)
    engine = engine or get_engine()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".corrections-", dir=out_dir.parent))
    result = CorrectionsExport(directory=out_dir)
    try:
        with Session(engine) as session:
            reports = session.exec(select(Report).where(Report.status == ReportStatus.SIGNED)
                                   .order_by(Report.signed_at, Report.id)).all()  # type: ignore[arg-type]
            rows = [row for r in reports if (row := _export_one(session, r, staging, key, options, result))]
        lines = "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in rows)
        (staging / MANIFEST).write_text(lines, encoding="utf-8")
        result.exported = len(rows)
        result.manifest_sha256 = hashlib.sha256(lines.encode("utf-8")).hexdigest()
        with session_scope(engine) as session:
            record(session, actor=actor, action="corrections.export", resource_type="dataset",
                   resource_id=result.manifest_sha256,
                   detail={"exported": result.exported, "skipped": len(result.skipped),
                           "folder": str(out_dir)})
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def main() -> None:
    import typer

    from medvlm.errors import MedVLMError

    def command(out_dir: Path,
                key_file: Path = typer.Option(..., help="File with the key (>= 16 bytes).")) -> None:
        """Export signed corrections as a de-identified training dataset."""
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise CorrectionsExportError(f"cannot read the key file {key_file}: {exc.strerror}") from exc
        typer.echo(export_corrections(out_dir, key, actor="cli:corrections-export").summary())

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(command)
    try:
        app()  # standalone: usage errors exit 2, success exits 0
    except MedVLMError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
