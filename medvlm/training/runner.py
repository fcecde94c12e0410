"""``train``: a curriculum end to end: validate, build or resume, run each stage, save, card, curve, register.

Layout of MODEL_DIR: the final bundle at the top (model/, tokenizer/, findings_head.safetensors,
medvlm_config.json, model_card.json, training_curve.png) and ``training/`` with the initial bundle, the
image cache, per-stage checkpoints (``<stage>/last.pt``, ``best.pt``), per-stage bundles
(``stages/<stage>/``) and ``state.json`` (completed stages: what ``--resume`` continues from).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from medvlm.curriculum import load_curriculum, plan_curriculum
from medvlm.curriculum.self_supervised import SelfSupervisedStage
from medvlm.curriculum.validate import data_hash
from medvlm.errors import ConfigError, CurriculumError
from medvlm.model import build_model, default_corpus, load_bundle
from medvlm.model.bundle import ModelBundle
from medvlm.model.quantize import quantization_config
from medvlm.model.views import enable_inputs
from medvlm.registry.gate import PER_FINDING_KEYS
from medvlm.training import checkpoint as ckpt
from medvlm.training import stage_metrics as ev
from medvlm.training.corrections import retune_thresholds
from medvlm.training.curves import plot_curves
from medvlm.training.distributed import DistInfo, barrier, init_distributed, shutdown
from medvlm.training.familiarity import film_paths, fit_familiarity, trained_rows
from medvlm.training.images import cache_images
from medvlm.training.self_supervised import run_self_supervised
from medvlm.training.stage import build_stage_data, evaluate_stage
from medvlm.training.stage_run import run_stage

log = logging.getLogger(__name__)

# ``--preset model:DIR``: start from a saved medvlm model (its findings head and thresholds included), as
# the corrections stage does from the production model; ``path:DIR`` is a foreign checkpoint instead.
SAVED = "model:"


def _saved_dir(preset: str) -> Path:
    directory = Path(preset[len(SAVED):]).expanduser()
    if not (directory / "model_card.json").is_file():
        raise ConfigError(f"preset {preset!r}: {directory} is not a saved medvlm model (no model_card.json)")
    return directory


@dataclass
class TrainOptions:
    curriculum: Path
    data_dir: Path
    out_dir: Path
    preset: str | None = None
    resume: bool = False
    progress: bool = True
    register: bool = True
    on_step: Callable[[str, int, int], None] | None = None  # (stage, done, steps) after each step


def _start_bundle(
    opts: TrainOptions,
    preset: str,
    seed: int,
    corpus: list[str],
    work: Path,
    state: dict[str, Any],
    info: DistInfo,
) -> ModelBundle:
    completed = state.get("completed", [])
    if completed:
        return load_bundle(work / "stages" / completed[-1]["name"])
    if not (work / "init" / "model_card.json").is_file():
        if info.main and preset.startswith(SAVED):  # retraining a saved model (corrections)
            base = load_bundle(_saved_dir(preset))
            base.embedding_novelty = None  # fitted on the base's features; refitted at the end of the run
            base.save(work / "init")
        elif info.main:
            from medvlm.ontology import load_ontology

            build_model(preset, load_ontology(), corpus, seed=seed).save(work / "init")
        barrier(info)
    return load_bundle(work / "init")


def train(opts: TrainOptions) -> Path:
    """Run the curriculum; returns MODEL_DIR. Every curriculum problem is raised before a training step."""
    info = init_distributed()
    try:
        return _train(opts, info)
    finally:
        shutdown(info)


def _train(opts: TrainOptions, info: DistInfo) -> Path:
    loaded = load_curriculum(opts.curriculum)
    cur = loaded.curriculum
    preset = opts.preset or cur.model.preset
    if preset.startswith(SAVED):
        preset = f"{SAVED}{_saved_dir(preset).resolve()}"
    if cur.model.quantize != "none":
        quantization_config(cur.model.quantize)  # no GPU or no bitsandbytes: say so before any work
    data_dir = opts.data_dir.resolve()
    plan = plan_curriculum(loaded, data_dir, max_positions=10**9, image_tokens=0)
    out, work = opts.out_dir, opts.out_dir / "training"
    state = _resumable_state(opts, loaded, preset)
    torch.manual_seed(cur.seed)
    train_texts = [
        f"{r.indication} {r.findings_text} {r.impression}" for recs in plan.records.values() for r in recs
    ]
    from medvlm.ontology import load_ontology

    corpus = train_texts + default_corpus(load_ontology())
    bundle = _start_bundle(opts, preset, cur.seed, corpus, work, state, info)
    enable_inputs(bundle, cur.inputs)  # a path: checkpoint that cannot take a lateral is refused here
    plan = plan_curriculum(loaded, data_dir, bundle.context_length, bundle.config.num_image_tokens)
    for name, fallback in plan.substituted.items():
        log.warning("data source %s has no data: using %s in its place", name, fallback)
    if not state:
        state = {
            "curriculum": str(loaded.path),
            "curriculum_sha256": loaded.sha256,
            "preset": preset,
            "data_manifest_sha256": data_hash(loaded, data_dir),
            "world_size": info.world,
            "completed": [],
        }
        if info.main:
            ckpt.write_json(work / "state.json", state)
    images, rows = _cached_films(plan.records, cur.inputs, bundle.image_size, work, info, opts.progress)
    done = {s["name"] for s in state["completed"]}
    for index, stage in enumerate(cur.stages):
        if stage.name in done:
            continue
        if stage.name in plan.skipped:
            log.warning("stage %s skipped: %s", stage.name, plan.skipped[stage.name])
            state["completed"].append(
                {"name": stage.name, "kind": stage.kind, "skipped": plan.skipped[stage.name]}
            )
            continue
        if isinstance(stage, SelfSupervisedStage):  # films, not records: its own loop (self_supervised.py)
            summary = run_self_supervised(stage, index, bundle, data_dir, work, cur.seed, info, opts.progress,
                                          opts.on_step)
            _stage_done(bundle, stage.name, summary, state, work, info)
            if not info.main:
                bundle = load_bundle(work / "stages" / stage.name)
            continue
        data = build_stage_data(stage, loaded, plan.records, rows, images, bundle, cur.seed + index)
        summary = run_stage(
            stage, index, bundle, data, work, cur.seed, info, opts.progress, cur.model, opts.on_step
        )
        _tune_thresholds(stage, bundle, data, images, rows, summary)
        summary["metrics"] = {k: round(v, 5) for k, v in evaluate_stage(stage, bundle, data).items()}
        bundle.eval()
        _stage_done(bundle, stage.name, summary, state, work, info)
    if info.main:
        fit_familiarity(bundle, images, trained_rows(cur, plan.records, rows), cur.seed)
        _finish(bundle, state, out, preset, opts.register)
    barrier(info)
    return out


def _resumable_state(opts: TrainOptions, loaded: Any, preset: str) -> dict[str, Any]:
    """The run's state.json ({} for a new run); a run already there resumes only with --resume, the same
    curriculum and the same preset."""
    out = opts.out_dir
    state = ckpt.read_json(out / "training" / "state.json") or {}
    if state and not opts.resume:
        raise ConfigError(
            f"{out} already holds a training run; pass --resume to continue it or pick a new --out"
        )
    if state and state.get("curriculum_sha256") != loaded.sha256:
        raise CurriculumError(f"{loaded.path} changed since the run in {out} started; start a new --out")
    if state and state.get("preset") != preset:
        raise ConfigError(f"{out} was trained with preset {state.get('preset')!r}, not {preset!r}")
    return state


def _cached_films(records: dict[str, list], inputs: Sequence[str], image_size: int, work: Path,
                  info: DistInfo, progress: bool) -> tuple[torch.Tensor, dict[str, int]]:
    """The model input of every record's frontal film (and its lateral when a stage reads laterals), cached
    by the main rank first; with the row of each film path."""
    paths = film_paths(records, inputs)
    if info.main:
        images = cache_images([Path(p) for p in paths], image_size, work / "cache", progress)
    barrier(info)
    if not info.main:
        images = cache_images([Path(p) for p in paths], image_size, work / "cache", False)
    return images, {p: i for i, p in enumerate(paths)}


def _tune_thresholds(stage: Any, bundle: ModelBundle, data: Any, images: torch.Tensor, rows: dict[str, int],
                     summary: dict[str, Any]) -> None:
    """After an encoder stage: per-finding thresholds on its held-out rows; after a corrections stage that
    asks for it: re-tuned on held-out plus corrected studies (recorded in the summary)."""
    tuned = False
    if stage.kind == "encoder" and data.eval_rows:
        bundle.config.thresholds = ev.tune_thresholds(
            bundle,
            images[data.eval_rows].float(),
            data.eval_records,
            beta=stage.threshold_beta,
            min_positives=stage.threshold_min_positives,
            floor=stage.sparse_threshold,
            laterals=data.lookup().laterals(data.eval_rows),
            shifts=data.prior_shifts,
        )
        tuned = True
    if stage.teach is not None and stage.teach.findings and stage.teach.findings.retune_thresholds:
        tuning = [*data.eval_records, *data.correction_records]
        tuning_rows = [*data.eval_rows, *(rows[str(r.files[0])] for r in data.correction_records)]
        summary["thresholds_retuned"] = retune_thresholds(
            stage, bundle, images[tuning_rows].float(), tuning, data.corrected,
            data.lookup().laterals(tuning_rows), data.prior_shifts,
        )
        tuned = True
    if tuned and data.prior_shifts:
        summary["threshold_prior_shifts"] = data.prior_shifts


def _stage_done(bundle: ModelBundle, name: str, summary: dict[str, Any], state: dict[str, Any], work: Path,
                info: DistInfo) -> None:
    """Save the stage's model and mark it completed (main rank), then wait for every rank."""
    if info.main:
        bundle.save(work / "stages" / name)
        state["completed"].append(summary)
        ckpt.write_json(work / "state.json", state)
    barrier(info)


def _finish(bundle: ModelBundle, state: dict[str, Any], out: Path, preset: str, register: bool) -> None:
    metrics: dict[str, float] = {}
    for stage in state["completed"]:
        metrics.update({k: v for k, v in stage.get("metrics", {}).items()
                        if k.count(".") <= 1 or k.startswith(PER_FINDING_KEYS)})  # the gate reads these
    parent = None
    if preset.startswith(SAVED):
        card = ckpt.read_json(_saved_dir(preset) / "model_card.json")
        parent = card.get("version") if isinstance(card, dict) else None
    elif preset.startswith("path:"):
        card = ckpt.read_json(Path(preset[5:]).parent / "model_card.json")
        parent = card.get("version") if isinstance(card, dict) else None
    bundle.card.update(
        {
            "parent": parent,
            "curriculum": state["curriculum"],
            "curriculum_sha256": state["curriculum_sha256"],
            "data_manifest_sha256": state["data_manifest_sha256"],
            "metrics": metrics,
            "config": {"preset": preset, "thresholds": bundle.config.thresholds,
                       "inputs": list(bundle.config.inputs)},
            "stages": [
                # throughput is a measurement of this run, not of the model: history.json keeps it
                {k: v for k, v in s.items() if k not in ("history", "evals", "throughput")}
                for s in state["completed"]
            ],
        }
    )
    bundle.save(out)
    plot_curves(state["completed"], out / "training_curve.png")
    ckpt.write_json(out / "training" / "history.json", state["completed"])
    if register:
        _register(out)


def _register(out: Path) -> None:
    """Hand the version to the registry (candidate) when the registry module is installed."""
    try:
        from medvlm.registry import register_version
    except ImportError:
        log.warning("medvlm.registry not available; %s not registered", out)
        return
    register_version(out)
