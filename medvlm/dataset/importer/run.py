"""``import_dataset``: a hospital's studies and signed reports -> a de-identified, labelled training set.

Steps: scan the DICOM sources (headers), read the report exports, pair them (``pairing``), then per paired
study: the intended-use gate (``intended_use.chest_view``, i.e. ``medvlm.gate``), PS3.15 de-identification
of every file and of the report text (``medvlm.compliance.deid``, the engine of the corrections export),
labels from the report labeler (uncertain stays uncertain), and the split by the project's hash rule
(``medvlm.corpus.iu``) on the de-identified patient, so no patient is in two splits. Output, as
``medvlm data build`` writes it:
``dicom/<study>/<sop>.dcm`` + ``manifest.jsonl``, plus ``provenance.json`` and ``data_card.{json,md}``.

Crash safety: the work happens in ``.<out>.importing`` beside the output; each finished study is one line
of its journal, appended after its files are in place, so a rerun with the same inputs continues after the
last whole study; the folder is renamed to the output only when everything is written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.errors import InvalidDicomError

from medvlm.compliance.deid import DeidOptions, UidMapper, deidentify_dataset
from medvlm.compliance.deid_profile import METHOD
from medvlm.compliance.deid_text import deidentify_text
from medvlm.compliance.errors import DeidentificationError
from medvlm.corpus.iu import iu_split
from medvlm.dataset.errors import DatasetError
from medvlm.dataset.importer.card import data_card, data_card_markdown
from medvlm.dataset.importer.pacs import PacsSource, retrieve
from medvlm.dataset.importer.pairing import pair
from medvlm.dataset.importer.progress import bar
from medvlm.dataset.importer.reports import SourceReport, read_reports, report_files
from medvlm.dataset.importer.studies import Study, list_entries, read_location, scan
from medvlm.dataset.manifest import MANIFEST, ManifestRecord, write_record
from medvlm.findings import Presence

JOURNAL = "import-journal.jsonl"
STATE = "import-state.json"
REPORT_SOURCE = "import"


@dataclass
class ImportSummary:
    directory: Path
    imported: int = 0
    resumed: int = 0  # studies a previous, interrupted run had finished
    splits: dict[str, int] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (where, reason) for the operator

    def lines(self) -> list[str]:
        split = ", ".join(f"{k} {v}" for k, v in sorted(self.splits.items()))
        out = [f"imported {self.imported} studies into {self.directory} ({split})"
               + (f"; {self.resumed} done by an earlier run" if self.resumed else "")]
        out += [f"not imported: {where}: {why}" for where, why in self.refused]
        return out


def _fingerprint(studies: list[Path], reports: list[Path], window_days: int, mapper: UidMapper,
                 options: DeidOptions, extra_reports: Sequence[SourceReport] = ()) -> str:
    """What a resumed run must share with the interrupted one (the key only as a keyed hash)."""
    extra = hashlib.sha256("\n".join(sorted(f"{r.where}\t{r.text}" for r in extra_reports)).encode())
    inputs = {"studies": [str(p.resolve()) for p in studies], "reports": [str(p.resolve()) for p in reports],
              "extra_reports": extra.hexdigest(),
              "window_days": window_days, "key": mapper.pseudonym("import-key-check", 16),
              "options": [options.accept_unknown_burned_in, options.retain_patient_characteristics,
                          options.max_sequence_depth]}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _staging(out: Path, fingerprint: str) -> Path:
    staging = out.parent / f".{out.name}.importing"
    state = staging / STATE
    if staging.exists():
        if not state.is_file() or json.loads(state.read_text()).get("fingerprint") != fingerprint:
            raise DatasetError(f"{staging} holds an unfinished import of other inputs (or another key); "
                               "rerun that import to finish it, or delete the folder")
        return staging
    staging.mkdir(parents=True)
    state.write_text(json.dumps({"fingerprint": fingerprint}))
    return staging


def _journal(staging: Path) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    path = staging / JOURNAL
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                break  # the line a crash cut short: that study is done again
            record = entry.get("record")
            if record and not all((staging / f).is_file() for f in record["files"]):
                continue  # a power cut can keep the line and lose the files (no fsync per study): redo it
            done[entry["key"]] = entry
    return done


def _write_files(study: Study, staging: Path, key: bytes, options: DeidOptions, new_study: str) -> list[str]:
    folder = staging / "dicom" / new_study
    shutil.rmtree(folder, ignore_errors=True)  # a study cut short by a crash starts over
    files = []
    for inst in study.ordered():
        try:
            ds = read_location(inst.location)
        except (OSError, InvalidDicomError, ValueError) as exc:
            # no location in the reason: it goes into the provenance, and file names can carry identities
            raise DeidentificationError(f"a file of the study cannot be read ({type(exc).__name__})") from exc
        clean = deidentify_dataset(ds, key, options)
        relative = Path("dicom") / new_study / f"{clean.SOPInstanceUID}.dcm"
        tmp = staging / relative.with_suffix(".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        clean.save_as(tmp, enforce_file_format=True)
        tmp.replace(staging / relative)
        files.append(str(relative))
    return files


def _record(study: Study, report: SourceReport, rule: str, files: list[str], mapper: UidMapper,
            new_study: str) -> dict[str, Any]:
    from medvlm.labeler import label_report

    names = [*study.names, *report.names]
    identifiers = [study.study_uid, study.accession, study.patient_id,
                   report.study_uid, report.accession, report.patient_id]

    def clean(text: str) -> str:
        return deidentify_text(text, names=names, identifiers=identifiers)

    findings_text, impression = clean(report.findings_text), clean(report.impression)
    findings = [f for f in label_report(f"{findings_text}\n{impression}") if f.presence != Presence.ABSENT]
    patient = f"ANON{mapper.pseudonym(study.patient_id or study.study_uid)}"
    date = study.date or report.date
    return {
        "study_id": f"imp-{mapper.pseudonym(study.study_uid)}", "study_instance_uid": new_study,
        "split": iu_split(patient), "files": files,
        "findings": [{**f.to_dict(), "evidence": f.evidence and clean(f.evidence)} for f in findings],
        "findings_text": findings_text, "impression": impression, "report_source": REPORT_SOURCE,
        "provenance": {"source": "hospital import", "report_format": report.fmt, "paired_by": rule,
                       "patient": patient, "views": [i.view for i in study.ordered()],
                       "year": date.year if date else None, "deidentification": METHOD,
                       "labels": "medvlm.labeler (uncertain kept as uncertain)"},
    }


def import_dataset(out: Path, studies: list[Path], reports: list[Path], key: bytes, *, window_days: int = 1,
                   options: DeidOptions | None = None, overwrite: bool = False,
                   progress: bool = True, pacs: PacsSource | None = None,
                   extra_reports: Sequence[SourceReport] = ()) -> ImportSummary:
    """``extra_reports``: reports read elsewhere (the service's own signed reports, read by the CLI from
    its database) paired like those in ``reports``."""
    out = Path(out)
    mapper = UidMapper(key)  # checks the key before any work
    if (out / MANIFEST).exists() and not overwrite:
        raise DatasetError(f"{out} already holds a dataset; pass --overwrite to replace it")
    if out.exists() and not (out / MANIFEST).exists() and any(out.iterdir()):
        raise DatasetError(f"{out} is not empty and holds no dataset; import into a new folder")
    if options is None:
        from medvlm.settings import get_settings

        options = DeidOptions(accept_unknown_burned_in=get_settings().deid_accept_unknown_burned_in)
    studies = list(studies)
    retrieved = out.parent / f".{out.name}.pacs"  # kept until the import is complete: a rerun resumes
    if pacs is not None:
        retrieve(pacs, retrieved, progress)
        studies.append(retrieved)
    files = report_files(reports)
    locations = [location for source in studies for location in list_entries(Path(source))]
    with bar(progress, len(locations), "reading DICOM headers") as step:
        found = scan(locations, step)
    source_reports = [r for path in files for r in read_reports(path)] + found.reports + list(extra_reports)
    pairing = pair(list(found.studies.values()), source_reports, window_days)
    if not pairing.pairs:
        reasons = _count(why for _, why in pairing.unpaired_reports) or {"no reports given": 1}
        raise DatasetError(
            f"no study could be paired with a report ({len(found.studies)} studies, {len(source_reports)} "
            f"reports); nothing imported. Most common reason: {max(reasons, key=reasons.__getitem__)}")
    staging = _staging(out, _fingerprint(studies, files, window_days, mapper, options, extra_reports))
    done = _journal(staging)
    summary = ImportSummary(out, resumed=len(done))
    refusals: list[dict[str, str]] = []
    for location, why in found.unreadable:
        summary.refused.append((location, why))
        refusals.append({"kind": "file", "reason": why})
    for report, why in pairing.unpaired_reports:
        summary.refused.append((report.where, why))
        refusals.append({"kind": "report", "format": report.fmt, "reason": why})
    for study, why in pairing.unpaired_studies:
        why = why if study.instances else "; ".join(sorted(set(study.refused))) or why
        summary.refused.append((f"study {study.study_uid}", why))
        refusals.append({"kind": "study", "study_id": f"imp-{mapper.pseudonym(study.study_uid)}",
                         "reason": why})
    progress_bar = bar(progress, len(pairing.pairs), "importing studies")
    with (staging / JOURNAL).open("a", encoding="utf-8") as journal, progress_bar as step:
        for study, report, rule in sorted(pairing.pairs, key=lambda p: p[0].study_uid):
            key_ = f"imp-{mapper.pseudonym(study.study_uid)}"
            if key_ not in done:
                done[key_] = _one(study, report, rule, staging, key, options, mapper, key_)
                journal.write(json.dumps(done[key_], sort_keys=True) + "\n")
                journal.flush()  # a killed process loses nothing; after a power cut, see _journal
            if "refused" in done[key_]:
                summary.refused.append((f"study {study.study_uid} ({report.where})", done[key_]["refused"]))
                refusals.append({"kind": "study", "study_id": key_, "reason": done[key_]["refused"]})
            step()
    records = [e["record"] for e in done.values() if "record" in e]
    _finish(staging, out, records, refusals, found.files, len(source_reports), overwrite, summary)
    if pacs is not None:
        shutil.rmtree(retrieved, ignore_errors=True)
    return summary


def _one(study: Study, report: SourceReport, rule: str, staging: Path, key: bytes, options: DeidOptions,
         mapper: UidMapper, key_: str) -> dict[str, Any]:
    if not any(i.view != "LATERAL" for i in study.instances):
        reasons = sorted(set(study.refused)) or ["only lateral views"]
        return {"key": key_, "refused": "no frontal chest radiograph: " + "; ".join(reasons)}
    new_study = mapper(study.study_uid)
    try:
        files = _write_files(study, staging, key, options, new_study)
    except DeidentificationError as exc:
        shutil.rmtree(staging / "dicom" / new_study, ignore_errors=True)
        reason = str(exc)
        for inst in study.instances:  # the reason goes into provenance: no original UID in it
            reason = reason.replace(inst.sop_uid, mapper(inst.sop_uid))
        return {"key": key_, "refused": f"de-identification refused: {reason}"}
    return {"key": key_, "record": _record(study, report, rule, files, mapper, new_study)}


def _finish(staging: Path, out: Path, records: list[dict[str, Any]], refusals: list[dict[str, str]],
            n_files: int, n_reports: int, overwrite: bool, summary: ImportSummary) -> None:
    records.sort(key=lambda r: r["study_id"])
    root = staging.resolve()
    tmp = staging / (MANIFEST + ".part")
    with tmp.open("w", encoding="utf-8") as fh:
        for n, data in enumerate(records, 1):
            write_record(fh, ManifestRecord.from_json(data, root, f"import record {n}"), root)
    tmp.replace(staging / MANIFEST)
    card = data_card(records)
    summary.imported = len(records)
    summary.splits = dict(card["splits"])
    provenance = {"source": "hospital import (medvlm data import)", "deidentification": METHOD,
                  "inputs": {"dicom_files": n_files, "reports": n_reports},
                  "imported": len(records), "refused": refusals,
                  "refused_by_reason": _count(r["reason"].split(":")[0] for r in refusals)}
    (staging / "provenance.json").write_text(json.dumps(provenance, indent=2, sort_keys=True))
    (staging / "data_card.json").write_text(json.dumps(card, indent=2, sort_keys=True))
    (staging / "data_card.md").write_text(data_card_markdown(card))
    (staging / JOURNAL).unlink()
    (staging / STATE).unlink()
    old = out.parent / f".{out.name}.replaced"
    if out.exists():
        out.rename(old)  # only an existing dataset (with --overwrite) or an empty folder gets here
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts
