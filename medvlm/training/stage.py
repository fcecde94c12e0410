"""One curriculum stage: examples, optimiser, the step loop with periodic eval, best and last checkpoints."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from medvlm.curriculum.loader import LoadedCurriculum
from medvlm.curriculum.schema import ModelSection, Stage
from medvlm.model.bundle import ModelBundle
from medvlm.model.heads import pos_weights
from medvlm.model.processing import qa_prompt, report_prompt
from medvlm.training import checkpoint as ckpt
from medvlm.training import corrections, qlora
from medvlm.training import stage_metrics as ev
from medvlm.training.distributed import DistInfo, barrier
from medvlm.training.examples import (
    TextExample,
    findings_targets,
    load_templates,
    qa_examples,
    report_examples,
)
from medvlm.training.images import augment, identity_theta
from medvlm.training.localize import (
    Spot,
    localization_loss,
    localized_slots,
    record_spots,
    spot_targets,
)
from medvlm.training.manifest import Record
from medvlm.training.mix import mixed_records
from medvlm.training.modules import apply_modules, merge_lora
from medvlm.training.scale import StageMeter, enable_gradient_checkpointing, resolve_precision


class StageModule(nn.Module):
    """Model + head as one module whose forward is the stage loss (what DDP wraps)."""

    def __init__(self, bundle: ModelBundle) -> None:
        super().__init__()
        self.bundle = bundle
        self.model = bundle.model
        self.head = bundle.head
        self.pos_weight: torch.Tensor | None = None  # encoder stages: per-finding weight of a positive
        self.localize = 0.0  # encoder stages: weight of the localization term (0 = none)
        self.localized: torch.Tensor | None = None  # encoder stages: findings with recorded positions
        self.head_weight = 1.0  # corrections stages: weight of the findings loss beside the text loss

    def forward(self, kind: str, images: torch.Tensor, payload: Any, max_tokens: int) -> torch.Tensor:
        b = self.bundle
        if kind == "encoder":
            tokens, detail = b.vision_features(b.pixel_values(images))
            logits = b.head(tokens, detail)
            pw = None if self.pos_weight is None else self.pos_weight.to(logits.device)
            loss = b.head.loss(logits, payload, pw)
            if self.localize:
                where = b.head.detail_logits(detail)
                # targets on the map's own grid, so nothing else needs to know the tower's strides
                targets, known = spot_targets(
                    payload["spots"], payload["presence"].cpu(), self.localized, payload["theta"],
                    (detail.shape[-2], detail.shape[-1]),
                )
                loss = loss + self.localize * localization_loss(where, targets, known)
            return loss
        if kind == "corrections":
            return self._corrections_loss(images, payload, max_tokens)
        examples: list[TextExample] = payload
        prompts = [
            report_prompt(b.config, list(e.prompt_findings or ()))
            if e.question is None
            else qa_prompt(b.config, e.question)
            for e in examples
        ]
        return b.lm_forward(images, prompts, [e.target for e in examples], max_tokens).loss

    def _corrections_loss(
        self, images: torch.Tensor, payload: dict[str, Any], max_tokens: int
    ) -> torch.Tensor:
        """Text loss on corrected (and replayed) reports + findings loss on their (replayed) states."""
        b = self.bundle
        loss = torch.zeros((), device=images.device)
        head = payload.get("head")
        if head is not None:
            tokens, detail = b.vision_features(b.pixel_values(head["images"]))
            pw = None if self.pos_weight is None else self.pos_weight.to(head["images"].device)
            loss = loss + self.head_weight * b.head.loss(b.head(tokens, detail), head["targets"], pw)
        examples = payload.get("text")
        if examples:
            prompts = [report_prompt(b.config, list(e.prompt_findings or ())) for e in examples]
            loss = loss + b.lm_forward(images, prompts, [e.target for e in examples], max_tokens).loss
        return loss


@dataclass
class StageData:
    images: torch.Tensor  # the shared cache (N, 1, S, S) float16
    train_rows: list[int]  # encoder: image row per record
    train_targets: dict[str, torch.Tensor] | None
    examples: list[TextExample]
    eval_records: list[Record]
    eval_rows: list[int]
    eval_examples: list[TextExample] = field(default_factory=list)
    pos_weight: torch.Tensor | None = None
    spots: list[list[Spot] | None] | None = None  # encoder: recorded focal-finding positions per record
    localized: torch.Tensor | None = None  # encoder: (findings,) which findings have positions
    # corrections with teach.findings: image rows and findings targets the head trains on
    head_rows: list[int] = field(default_factory=list)
    head_targets: dict[str, torch.Tensor] | None = None
    corrected: set[str] = field(default_factory=set)  # findings whose state a correction changed
    correction_records: list[Record] = field(default_factory=list)

    def size(self, kind: str) -> int:
        if kind == "encoder" or (kind == "corrections" and not self.examples):
            return len(self.head_rows) if kind == "corrections" else len(self.train_rows)
        return len(self.examples)


def build_stage_data(
    stage: Stage,
    loaded: LoadedCurriculum,
    records: dict[str, list[Record]],
    rows: dict[str, int],
    images: torch.Tensor,
    bundle: ModelBundle,
    seed: int,
) -> StageData:
    def row(r: Record) -> int:
        return rows[str(r.files[0])]

    if stage.kind == "corrections":  # the mix weighs the replayed sources; corrections are all used
        train = records[stage.sources[0]] + mixed_records(stage.sources[1:], records, stage.mix, seed)
    else:
        train = mixed_records(stage.sources, records, stage.mix, seed)
    eval_records = records[stage.eval_source][: stage.eval_samples] if stage.eval_source else []
    eval_rows = [row(r) for r in eval_records]
    slots = bundle.config.slots
    data = StageData(images, [row(r) for r in train], None, [], eval_records, eval_rows)
    if stage.kind == "encoder":
        data.train_targets = findings_targets(train, slots)
        data.pos_weight = pos_weights(data.train_targets["presence"])
        if stage.localize:
            data.spots = [record_spots(r, slots) for r in train]
            data.localized = localized_slots(data.spots, len(slots))
    elif stage.kind == "introduction":
        templates = load_templates(loaded.resolve(stage.templates or ""))
        data.examples = qa_examples(
            train, data.train_rows, slots, templates, stage.negatives_per_record, seed
        )
        data.eval_examples = qa_examples(eval_records, eval_rows, slots, templates, 1, seed + 1)
        data.eval_examples = data.eval_examples[: stage.eval_samples]
    elif stage.kind == "specialism":
        ontology = _ontology() if stage.rendered_reports else None
        data.examples = report_examples(train, data.train_rows, stage.rendered_reports, ontology)
        data.eval_examples = report_examples(eval_records, eval_rows)
    else:  # corrections: what the curriculum's teach says, each part with its replay share
        data.correction_records = records[stage.sources[0]]
        data.corrected = corrections.corrected_labels(data.correction_records)
        if stage.teach is None or stage.teach.text is not None:
            ontology = _ontology() if stage.rendered_reports else None
            data.examples = corrections.text_examples(stage, records, row, seed, ontology)
        if stage.teach is not None and stage.teach.findings is not None:
            data.head_rows, data.head_targets, data.pos_weight = corrections.head_data(
                stage, records, row, bundle, seed
            )
        data.eval_examples = report_examples(eval_records, eval_rows)
    if stage.kind != "encoder" and not data.examples and not data.head_rows:
        from medvlm.errors import CurriculumError

        raise CurriculumError(f"stage {stage.name!r}: its sources give no training examples")
    return data


def _ontology() -> Any:
    from medvlm.ontology import load_ontology

    return load_ontology()


def batch_indices(seed: int, stage_index: int, step: int, batch: int, n: int) -> list[int]:
    """Global batch of ``step`` from seeded per-epoch permutations: a resumed run sees the same batches."""
    out: list[int] = []
    pos = step * batch
    while len(out) < batch:
        epoch, offset = divmod(pos, n)
        g = torch.Generator().manual_seed(seed * 1_000_003 + stage_index * 10_007 + epoch)
        perm = torch.randperm(n, generator=g).tolist()
        take = perm[offset : offset + batch - len(out)]
        out += take
        pos += len(take)
    return out


def lr_at(stage: Stage, step: int) -> float:
    if step < stage.warmup_steps:
        return stage.lr * (step + 1) / stage.warmup_steps
    progress = (step - stage.warmup_steps) / max(stage.steps - stage.warmup_steps, 1)
    return stage.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def evaluate_stage(stage: Stage, bundle: ModelBundle, data: StageData) -> dict[str, float]:
    bundle.eval()
    imgs = data.images[data.eval_rows].float() if data.eval_rows else None
    metrics: dict[str, float] = {}
    for task in stage.eval_tasks:
        if task == "findings" and imgs is not None:
            metrics.update(ev.findings_metrics(bundle, imgs, data.eval_records))
        elif task == "qa":
            metrics.update(ev.qa_accuracy(bundle, data.images, data.eval_examples))
        elif task == "report" and imgs is not None:
            metrics.update(ev.report_metrics(bundle, imgs, data.eval_records, stage.max_answer_tokens))
        elif task == "loss":
            examples = data.eval_examples
            metrics["loss"] = ev.text_loss(bundle, data.images, examples, stage.max_answer_tokens)
    bundle.model.train()
    bundle.head.train()
    return metrics


def _localize_weight(stage: Stage, bundle: ModelBundle, data: StageData, main: bool) -> float:
    """The stage's localize weight, or 0 (said once) when the model or the data cannot use it."""
    if not stage.localize:
        return 0.0
    why = None
    if bundle.head.detail is None:
        why = "this model's findings head has no detail map (a path: checkpoint)"
    elif data.localized is None or not bool(data.localized.any()):
        why = "no film in its sources records finding positions"
    if why is None:
        return stage.localize
    if main:
        print(f"[{stage.name}] localize not used: {why}")
    return 0.0


def _micro_batches(idx: list[int], parts: int) -> list[list[int]]:
    """``idx`` in ``parts`` nearly equal, non-empty, ordered slices (grad accumulation)."""
    parts = max(1, min(parts, len(idx)))
    size, extra = divmod(len(idx), parts)
    out, pos = [], 0
    for k in range(parts):
        n = size + (1 if k < extra else 0)
        out.append(idx[pos : pos + n])
        pos += n
    return out


def _corrections_inputs(
    stage: Stage,
    data: StageData,
    idx: list[int],
    head_idx: list[int],
    g: torch.Generator,
    device: torch.device,
) -> tuple[torch.Tensor, Any]:
    """Text images + examples ``idx`` and head images + targets ``head_idx`` of a corrections batch."""
    payload: dict[str, Any] = {"text": None, "head": None}
    images = torch.zeros(0)
    if data.examples:
        payload["text"] = [data.examples[i] for i in idx]
        images = data.images[[e.image for e in payload["text"]]].float()
        if stage.augment:
            images, _ = augment(images, g)
    if data.head_rows:
        head_images = data.images[[data.head_rows[i] for i in head_idx]].float()
        if stage.augment:
            head_images, _ = augment(head_images, g)
        targets = {k: v[head_idx].to(device) for k, v in (data.head_targets or {}).items()}
        payload["head"] = {"images": head_images.to(device), "targets": targets}
    return images.to(device), payload


def _inputs(
    stage: Stage, data: StageData, idx: list[int], g: torch.Generator, localize: float, device: torch.device
) -> tuple[torch.Tensor, Any]:
    """Images (augmented when the stage says so) and the loss payload of the examples ``idx``."""
    if stage.kind == "encoder":
        rows = [data.train_rows[i] for i in idx]
        payload: Any = {k: v[idx].to(device) for k, v in (data.train_targets or {}).items()}
    else:
        examples = [data.examples[i] for i in idx]
        rows, payload = [e.image for e in examples], examples
    images = data.images[rows].float()
    theta = None
    if stage.augment:
        images, theta = augment(images, g)
    if localize:  # encoder stages only (the schema says so): positions follow the augmentation
        assert data.spots is not None
        payload["spots"] = [data.spots[i] for i in idx]
        payload["theta"] = identity_theta(len(idx)) if theta is None else theta
    return images.to(device), payload


def _target_tokens(payload: Any) -> Callable[[], int]:
    """Rough tokens of a text batch (words of the targets) for the tokens/s figure; 0 for encoder stages."""
    if isinstance(payload, dict):
        payload = payload.get("text") or []  # corrections: its text part; encoder: none
    return lambda: sum(len(e.target.split()) for e in payload)


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
    module = StageModule(bundle)
    module.pos_weight = data.pos_weight
    if stage.teach is not None and stage.teach.findings is not None:
        module.head_weight = stage.teach.findings.weight
    localize = _localize_weight(stage, bundle, data, info.main)
    module.localize, module.localized = localize, data.localized
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=stage.lr, weight_decay=stage.weight_decay)
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
    start = 0
    last = ckpt.load(stage_dir / "last.pt")
    if last is not None:
        ckpt.load_trainable(module, last["trainable"])
        optimizer.load_state_dict(last["optimizer"])
        summary = last["summary"]
        start = last["step"]
        torch.set_rng_state(last["rng"])
    runner: nn.Module = module
    if info.enabled:
        runner = nn.parallel.DistributedDataParallel(module, find_unused_parameters=True)
    sign = 1.0 if stage.direction() == "max" else -1.0
    n = data.size(stage.kind)
    per_rank = max(stage.batch_size // info.world, 1)
    bar = tqdm(
        total=stage.steps,
        initial=start,
        desc=stage.name,
        disable=not (progress and info.main),
        dynamic_ncols=True,
    )
    scaler = precision.scaler(info.device)
    meter = StageMeter(info.device)
    for step in range(start, stage.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(stage, step)
        idx = batch_indices(seed, stage_index, step, per_rank * info.world, n)[info.rank :: info.world]
        g = torch.Generator().manual_seed(seed * 7919 + stage_index * 104_729 + step * 31 + info.rank)
        optimizer.zero_grad(set_to_none=True)
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
                images, payload = _corrections_inputs(stage, data, part, head_parts[k], g, info.device)
            else:
                images, payload = _inputs(stage, data, part, g, localize, info.device)
            with context, meter.timed(len(part), _target_tokens(payload)):
                with precision.autocast(info.device):
                    part_loss = runner(stage.kind, images, payload, stage.max_answer_tokens)
                # the mean over the whole batch: each micro-batch weighs by its share of the examples
                scaled = part_loss * (len(part) / len(idx))
                (scaler.scale(scaled) if scaler is not None else scaled).backward()
            loss = loss + scaled.detach().float().cpu()
        if scaler is not None:
            scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        value = float(loss.detach())
        summary["history"].append({"step": step + 1, "loss": round(value, 5)})
        bar.update(1)
        if on_step is not None and info.main:
            on_step(stage.name, step + 1, stage.steps)
        bar.set_postfix(loss=f"{value:.4f}")
        done = step + 1
        if done % stage.eval_every == 0 or done == stage.steps:
            if info.main:
                metrics = evaluate_stage(stage, bundle, data)
                summary["evals"].append({"step": done, **{k: round(v, 5) for k, v in metrics.items()}})
                score = metrics.get(stage.select_on)
                if score is not None and (summary["best"] is None or sign * score > sign * summary["best"]):
                    summary["best"], summary["best_step"] = score, done
                    ckpt.atomic_save(ckpt.trainable_state(module), stage_dir / "best.pt")
                shown = ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k.count(".") <= 1)
                bar.write(f"[{stage.name}] step {done}: {shown}")
            barrier(info)
        if done % stage.checkpoint_every == 0 or done == stage.steps:
            if info.main:
                ckpt.atomic_save(
                    {
                        "step": done,
                        "trainable": ckpt.trainable_state(module),
                        "optimizer": optimizer.state_dict(),
                        "summary": summary,
                        "rng": torch.get_rng_state(),
                    },
                    stage_dir / "last.pt",
                )
            barrier(info)
    bar.close()
    if meter.examples:
        summary["throughput"] = {**meter.summary(), "precision": precision.name,
                                 "gradient_checkpointing": options.gradient_checkpointing,
                                 "grad_accumulation": stage.grad_accumulation}
        if info.main:
            print(meter.line(stage.name, precision.name))
    # Each replica records a digest of its weights: under DDP they must agree (gradients were all-reduced).
    digest = ckpt.state_digest(ckpt.trainable_state(module))
    (stage_dir / f"replica_rank{info.rank}.sha256").write_text(digest)
    best = ckpt.load(stage_dir / "best.pt")
    if best is not None:
        ckpt.load_trainable(module, best)
    if full_model is not None:
        qlora.restore_full_precision(bundle, full_model)
    merge_lora(bundle)
    bundle.eval()
    return summary
