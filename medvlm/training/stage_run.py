"""Training one stage: prepare the modules, resume, step, evaluate and keep the best, finish.

``run_stage`` reads top to bottom as those steps; each helper is one of them. The data a stage trains on and
its batches, inputs and losses are in ``medvlm.training.stage``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from medvlm.curriculum.schema import ModelSection, Stage
from medvlm.model.bundle import ModelBundle
from medvlm.training import checkpoint as ckpt
from medvlm.training import qlora
from medvlm.training.distributed import DistInfo, barrier
from medvlm.training.modules import apply_modules, merge_lora
from medvlm.training.scale import StageMeter, enable_gradient_checkpointing, resolve_precision
from medvlm.training.stage import (
    StageData,
    StageModule,
    _adversary,
    _corrections_inputs,
    _inputs,
    _localize_weight,
    _measures_head,
    _micro_batches,
    _outline_head,
    _target_tokens,
    batch_indices,
    evaluate_stage,
    lr_at,
)


@dataclass
class _Prepared:
    """A stage's trainable module and what training it needs."""

    module: StageModule
    params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    precision: Any
    localize: Any
    full_model: Any  # the full-precision model a QLoRA stage restores at the end, else None


def _prepare(stage: Stage, bundle: ModelBundle, data: StageData, stage_dir: Path, options: ModelSection,
             info: DistInfo) -> _Prepared:
    full_model = None
    if qlora.applies(stage, options.quantize):
        full_model = qlora.quantize_for_stage(bundle, stage_dir, options.gradient_checkpointing)
    apply_modules(bundle, stage.modules, stage.lora)
    if options.gradient_checkpointing:
        enable_gradient_checkpointing(bundle.model)
    precision = resolve_precision(options.precision, info.device)
    if precision.note and info.main:
        print(f"[{stage.name}] {precision.note}")
    bundle.to(info.device)
    bundle.model.train()
    bundle.head.train()
    if bundle.views is not None:  # the lateral's view embedding trains with what reads it
        trainable = stage.modules.trainable()
        bundle.views.vision.requires_grad_(bool(trainable & {"vision", "findings_head"}))
        bundle.views.text.requires_grad_(bool(trainable & {"projector", "language"}))
    module = StageModule(bundle)
    module.pos_weight = data.pos_weight
    if stage.teach is not None and stage.teach.findings is not None:
        module.head_weight = stage.teach.findings.weight
    localize = _localize_weight(stage, bundle, data, info.main)
    module.localize, module.localized = localize, data.localized
    outline_head = _outline_head(stage, bundle, data, info.main)
    module.outline_head = None if outline_head is None else outline_head.to(info.device)
    module.outline = stage.outline
    measures = _measures_head(stage, data, bundle.head.feature_dim, info.main)
    module.measures = None if measures is None else measures.to(info.device)
    module.measure_weight = stage.measures
    adversary = _adversary(stage, data, bundle.head.feature_dim, info.main)
    module.adversary = None if adversary is None else adversary.to(info.device)
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=stage.lr, weight_decay=stage.weight_decay)
    return _Prepared(module, params, optimizer, precision, localize, full_model)


def _resume(stage: Stage, stage_dir: Path, prepared: _Prepared) -> tuple[dict[str, Any], int]:
    """The summary and the step to start from: a fresh one, or what ``last.pt`` kept (``--resume``)."""
    summary: dict[str, Any] = {
        "name": stage.name,
        "kind": stage.kind,
        "select_on": stage.select_on,
        "steps": stage.steps,
        "history": [],
        "evals": [],
        "best": None,
        "best_step": None,
    }
    last = ckpt.load(stage_dir / "last.pt")
    if last is None:
        return summary, 0
    ckpt.load_trainable(prepared.module, last["trainable"])
    prepared.optimizer.load_state_dict(last["optimizer"])
    torch.set_rng_state(last["rng"])
    return last["summary"], last["step"]


def _step_loss(stage: Stage, stage_index: int, step: int, data: StageData, prepared: _Prepared,
               runner: nn.Module, scaler: Any, meter: StageMeter, seed: int, info: DistInfo) -> float:
    """One optimisation step's forward and backward passes, micro-batch by micro-batch; the batch loss."""
    per_rank = max(stage.batch_size // info.world, 1)
    idx = batch_indices(seed, stage_index, step, per_rank * info.world, data.size(stage.kind))
    idx = idx[info.rank :: info.world]
    g = torch.Generator().manual_seed(seed * 7919 + stage_index * 104_729 + step * 31 + info.rank)
    loss = torch.zeros(())
    parts = _micro_batches(idx, stage.grad_accumulation)
    head_parts = parts
    if stage.kind == "corrections" and data.head_rows and data.examples:  # the head's own batch
        head_all = batch_indices(seed + 1, stage_index, step, per_rank * info.world, len(data.head_rows))
        head_parts = _micro_batches(head_all[info.rank :: info.world], stage.grad_accumulation)
    for k, part in enumerate(parts):
        sync = k == len(parts) - 1 or not info.enabled
        context = contextlib.nullcontext() if sync else runner.no_sync()  # type: ignore[operator]
        if stage.kind == "corrections":
            images, payload, study = _corrections_inputs(stage, data, part, head_parts[k], g, info.device)
        else:
            outline = prepared.module.outline if prepared.module.outline_head is not None else 0.0
            images, payload, study = _inputs(stage, data, part, g, prepared.localize, info.device, outline)
        with context, meter.timed(len(part), _target_tokens(payload)):
            with prepared.precision.autocast(info.device):
                part_loss = runner(stage.kind, images, payload, stage.max_answer_tokens, study)
            # the mean over the whole batch: each micro-batch weighs by its share of the examples
            scaled = part_loss * (len(part) / len(idx))
            (scaler.scale(scaled) if scaler is not None else scaled).backward()
        loss = loss + scaled.detach().float().cpu()
    return float(loss.detach())


def _apply_gradients(prepared: _Prepared, scaler: Any) -> None:
    if scaler is not None:
        scaler.unscale_(prepared.optimizer)
    torch.nn.utils.clip_grad_norm_(prepared.params, 1.0)
    if scaler is not None:
        scaler.step(prepared.optimizer)
        scaler.update()
    else:
        prepared.optimizer.step()


def _evaluate_and_keep_best(stage: Stage, bundle: ModelBundle, data: StageData, prepared: _Prepared,
                            summary: dict[str, Any], done: int, stage_dir: Path, bar: Any) -> None:
    """Evaluate on the stage's eval source; the best step so far (by ``select_on``) is kept as best.pt."""
    sign = 1.0 if stage.direction() == "max" else -1.0
    metrics = evaluate_stage(stage, bundle, data)
    summary["evals"].append({"step": done, **{k: round(v, 5) for k, v in metrics.items()}})
    score = metrics.get(stage.select_on)
    if score is not None and (summary["best"] is None or sign * score > sign * summary["best"]):
        summary["best"], summary["best_step"] = score, done
        ckpt.atomic_save(ckpt.trainable_state(prepared.module), stage_dir / "best.pt")
    shown = ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k.count(".") <= 1)
    bar.write(f"[{stage.name}] step {done}: {shown}")


def _save_last(prepared: _Prepared, summary: dict[str, Any], done: int, stage_dir: Path) -> None:
    ckpt.atomic_save(
        {
            "step": done,
            "trainable": ckpt.trainable_state(prepared.module),
            "optimizer": prepared.optimizer.state_dict(),
            "summary": summary,
            "rng": torch.get_rng_state(),
        },
        stage_dir / "last.pt",
    )


def _finish(stage: Stage, bundle: ModelBundle, prepared: _Prepared, summary: dict[str, Any],
            meter: StageMeter, options: ModelSection, stage_dir: Path, info: DistInfo) -> None:
    """Throughput into the summary, the replica digest, the best step's weights back, LoRA merged."""
    if meter.examples:
        summary["throughput"] = {**meter.summary(), "precision": prepared.precision.name,
                                 "gradient_checkpointing": options.gradient_checkpointing,
                                 "grad_accumulation": stage.grad_accumulation}
        if info.main:
            print(meter.line(stage.name, prepared.precision.name))
    # Each replica records a digest of its weights: under DDP they must agree (gradients were all-reduced).
    digest = ckpt.state_digest(ckpt.trainable_state(prepared.module))
    (stage_dir / f"replica_rank{info.rank}.sha256").write_text(digest)
    best = ckpt.load(stage_dir / "best.pt")
    if best is not None:
        ckpt.load_trainable(prepared.module, best)
    if prepared.full_model is not None:
        qlora.restore_full_precision(bundle, prepared.full_model)
    merge_lora(bundle)
    bundle.eval()


def run_stage(
    stage: Stage,
    stage_index: int,
    bundle: ModelBundle,
    data: StageData,
    work: Path,
    seed: int,
    info: DistInfo,
    progress: bool,
    model_options: ModelSection | None = None,
    on_step: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Train one stage; returns its summary (history, evals, selected step and metrics). ``on_step(stage,
    done, steps)`` after each step (a service job's progress)."""
    from tqdm import tqdm

    options = model_options or ModelSection()
    stage_dir = work / stage.name
    prepared = _prepare(stage, bundle, data, stage_dir, options, info)
    summary, start = _resume(stage, stage_dir, prepared)
    runner: nn.Module = prepared.module
    if info.enabled:
        runner = nn.parallel.DistributedDataParallel(prepared.module, find_unused_parameters=True)
    bar = tqdm(total=stage.steps, initial=start, desc=stage.name, disable=not (progress and info.main),
               dynamic_ncols=True)
    scaler = prepared.precision.scaler(info.device)
    meter = StageMeter(info.device)
    for step in range(start, stage.steps):
        for group in prepared.optimizer.param_groups:
            group["lr"] = lr_at(stage, step)
        prepared.optimizer.zero_grad(set_to_none=True)
        value = _step_loss(stage, stage_index, step, data, prepared, runner, scaler, meter, seed, info)
        _apply_gradients(prepared, scaler)
        done = step + 1
        summary["history"].append({"step": done, "loss": round(value, 5)})
        bar.update(1)
        if on_step is not None and info.main:
            on_step(stage.name, done, stage.steps)
        bar.set_postfix(loss=f"{value:.4f}")
        if done % stage.eval_every == 0 or done == stage.steps:
            if info.main:
                _evaluate_and_keep_best(stage, bundle, data, prepared, summary, done, stage_dir, bar)
            barrier(info)
        if done % stage.checkpoint_every == 0 or done == stage.steps:
            if info.main:
                _save_last(prepared, summary, done, stage_dir)
            barrier(info)
    bar.close()
    _finish(stage, bundle, prepared, summary, meter, options, stage_dir, info)
    return summary
