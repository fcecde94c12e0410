"""``medvlm eval``: draft every study of a dataset split with a model, score the drafts against the
ground truth, and write ``OUT/metrics.json`` and ``OUT/report.html``."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import torch

from medvlm.dataset.manifest import SPLITS  # includes test_cross_patient
from medvlm.errors import ConfigError, NotFoundError
from medvlm.evaluation.baselines import image_embeddings, normal_reports, retrieval_reports, template_report
from medvlm.evaluation.classification import interval_text
from medvlm.evaluation.compare import PREDICTIONS, write_predictions
from medvlm.evaluation.html_report import write_report
from medvlm.evaluation.scoring import DEFINITIONS, guard_change_causes, score_findings, score_reports
from medvlm.evaluation.sides import side_agreement
from medvlm.evaluation.subgroups import subgroup_aurocs, subgroup_summary
from medvlm.findings import NO_FINDING, Presence
from medvlm.inference.uncertainty import UNFAMILIAR_FILM
from medvlm.ontology import load_ontology
from medvlm.registry.gate import FINDING_MIN_POSITIVES
from medvlm.registry.resolve import resolve_model_dir
from medvlm.settings import Settings

EXAMPLES = 12  # drafts shown in report.html (drafts.jsonl holds them all)
DRAFTS = "drafts.jsonl"


def _positive(findings: list) -> list[str]:
    return [f.label for f in findings if f.presence != Presence.ABSENT and f.label != NO_FINDING]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def evaluate_to_folder(model_dir: Path | None, data_dir: Path, split: str = "test",
                       out_dir: Path = Path("eval-out"), limit: int | None = None, *,
                       batch_size: int = 8, progress: bool = True,
                       settings: Settings | None = None, retrieval_pool: int | None = None) -> str:
    """Evaluate and write the two files; returns a short summary for the terminal. ``retrieval_pool``
    caps the train studies the retrieval baseline searches (all by default)."""
    from medvlm.dataset.manifest import manifest_hash, read_manifest, split_hash
    from medvlm.inference.draft import draft_batch
    from medvlm.model import load_bundle

    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be a positive number of studies, got {limit}")
    if retrieval_pool is not None and retrieval_pool < 1:
        raise ConfigError(f"retrieval_pool must be a positive number of studies, got {retrieval_pool}")
    everything = read_manifest(Path(data_dir))
    records = [r for r in everything if r.split == split]
    if not records:
        raise NotFoundError(f"{data_dir} has no studies in split {split!r}")
    records = records[:limit] if limit else records
    model_dir = resolve_model_dir(model_dir, settings)
    bundle = load_bundle(model_dir)

    # the manifest's indication is the one training read (a DICOM's request attributes hold 64 characters)
    drafts = draft_batch(bundle, [r.files for r in records], batch_size=batch_size, progress=progress,
                         settings=settings, indications=[r.indication for r in records])
    truth = [r.findings for r in records]
    metrics: dict[str, Any] = {
        "model_version": bundle.version, "model_dir": str(Path(model_dir).resolve()),
        "data_dir": str(Path(data_dir).resolve()), "data_manifest_sha256": manifest_hash(Path(data_dir)),
        "data_split_sha256": split_hash(Path(data_dir), split),
        "split": split, "n_studies": len(records),
    }
    findings_metrics, curves = score_findings(bundle.names, [d.findings for d in drafts], truth)
    metrics.update(findings_metrics)
    metrics.update(side_agreement([d.findings for d in drafts], truth))
    metrics["findings.by_subgroup"] = subgroup_aurocs(bundle.names, [d.findings for d in drafts], truth,
                                                      [r.provenance for r in records])
    ontology = load_ontology()
    baselines = {
        "normal": normal_reports(len(records)),
        "template": [template_report(d.findings, ontology) for d in drafts],
    }
    pool = [r for r in everything if r.split == "train"][:retrieval_pool]
    retrieved: list[tuple[str, str]] | None = None
    if pool:
        retrieved = _retrieve(bundle, records, pool, settings)
        baselines["retrieval"] = retrieved
        metrics["baseline.retrieval.pool"] = len(pool)
    own = [d.generated for d in drafts]
    delivered = [(d.findings_text, d.impression) for d in drafts]
    references = [(r.findings_text, r.impression) for r in records]
    metrics.update(score_reports(own, delivered, references, truth, baselines, ontology,
                                 prompted=[d.findings for d in drafts]))
    metrics["report.guard_changed_by"] = guard_change_causes(own, delivered,
                                                             [[r.kind for r in d.repairs] for d in drafts])
    totals = [sum(d.timings_ms.values()) for d in drafts]
    metrics["latency_ms.draft_p50"] = statistics.median(totals)
    metrics["latency_ms.draft_p95"] = _percentile(totals, 0.95)
    metrics["drafts.flagged"] = sum(any(f.kind != UNFAMILIAR_FILM for f in d.consistency_flags)
                                    for d in drafts) / len(drafts)
    metrics["drafts.unfamiliar"] = sum(any(f.kind == UNFAMILIAR_FILM for f in d.consistency_flags)
                                       for d in drafts) / len(drafts)
    metrics["definitions"] = DEFINITIONS

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    write_predictions(out_dir / PREDICTIONS, records, drafts)
    examples = [{
        "study_id": r.study_id, "own_findings": d.generated[0], "own_impression": d.generated[1],
        "findings_text": d.findings_text, "impression": d.impression,
        "flags": [f.to_dict() for f in d.consistency_flags], "repairs": [f.to_dict() for f in d.repairs],
        "ref_findings": r.findings_text, "ref_impression": r.impression, "predicted": _positive(d.findings),
        "truth": _positive(r.findings),
    } for r, d in zip(records, drafts, strict=True)]
    # every draft, to be read: the own text, what the guard delivered and why, beside the reference
    (out_dir / DRAFTS).write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in examples))
    html = write_report(out_dir, metrics, curves, examples[:EXAMPLES])
    return _summary(metrics, out_dir / "metrics.json", html)


def _retrieve(bundle: Any, records: list, pool: list, settings: Settings | None) -> list[tuple[str, str]]:
    """The retrieval baseline's report for each record (see ``medvlm.evaluation.baselines``)."""
    from medvlm.inference.inputs import load_study

    def embed(items: list) -> torch.Tensor:
        images = torch.stack([load_study(r.files, bundle.image_size, settings).image for r in items])
        return image_embeddings(bundle, images)

    return retrieval_reports(embed(records), embed(pool), [(r.findings_text, r.impression) for r in pool])


def _causes(m: dict[str, Any]) -> str:
    causes = m.get("report.guard_changed_by") or {}
    return f" (by repair: {', '.join(f'{k} {v:.3f}' for k, v in causes.items())})" if causes else ""


def _summary(m: dict[str, Any], metrics_path: Path, html: Path) -> str:
    def f(key: str) -> str:
        value = m.get(key)
        return "n/a" if value is None else f"{value:.3f}"

    def row(name: str, prefix: str) -> str:
        return (f"{name:<30}CE-F1 {f(prefix + '.ce_f1')} (macro {f(prefix + '.ce_f1_macro')})  "
                f"hallucination {f(prefix + '.hallucination_rate')}/report  "
                f"omission {f(prefix + '.omission_rate')}  BLEU-4 {f(prefix + '.bleu4')}  "
                f"ROUGE-L {f(prefix + '.rouge_l')}  chrF {f(prefix + '.chrf')}")

    rows = [("model's own text (guard off)", "report"), ("after the guard", "report.guarded")]
    rows += [(f"baseline: {b}", f"baseline.{b}") for b in ("normal", "retrieval", "template")
             if f"baseline.{b}.ce_f1" in m]
    return "\n".join([
        f"model {m['model_version']} on {m['n_studies']} {m['split']} studies",
        f"findings: macro-AUROC {f('findings.macro_auroc')} "
        f"(95 % interval {interval_text(m.get('findings.macro_auroc_ci'))})  "
        f"over findings with >= {FINDING_MIN_POSITIVES} positives {f('findings.macro_auroc_supported')}  "
        f"macro-F1 {f('findings.macro_f1')}  "
        f"ECE {f('findings.ece')}",
        *(["findings by subgroup (supported macro-AUROC, studies):",
           *subgroup_summary(m["findings.by_subgroup"])] if m.get("findings.by_subgroup") else []),
        f"side of the findings called rightly: {f('findings.side_accuracy')} of "
        f"{m['findings.side_pairs']} (always 'right': {f('findings.side_baseline_right')})",
        *(row(name, prefix) for name, prefix in rows),
        f"the own text against its findings prompt: agreement F1 {f('report.prompt_f1')}, "
        f"findings added {f('report.prompt_additions')}/report",
        f"the guard changed {f('report.guard_changed')} of drafts{_causes(m)}",
        f"drafts flagged as on a film unlike the training films: {f('drafts.unfamiliar')}",
        f"verdict: {m['report.verdict']}",
        f"latency: draft p50 {m['latency_ms.draft_p50']:.0f} ms",
        f"wrote {metrics_path} and {html}",
    ])
