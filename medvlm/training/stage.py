"""One curriculum stage: examples, optimiser, the step loop with periodic eval, best and last checkpoints."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from medvlm.curriculum.loader import LoadedCurriculum
from medvlm.curriculum.schema import Stage
from medvlm.model.bundle import ModelBundle
from medvlm.model.heads import pos_weights
from medvlm.training import corrections
from medvlm.training import stage_metrics as ev
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
from medvlm.training.measures import MEASURES, has_measures, measure_loss, measure_targets
from medvlm.training.mix import mixed_records
from medvlm.training.outline_targets import outline_loss, outline_targets
from medvlm.training.patient_adversary import UNKNOWN, PatientAdversary, patient_targets
from medvlm.training.study import StudyLookup

# A batch's laterals (one film or None per row) and indications (text per row), as the stage reads them.
Study = dict[str, Any]


class StageModule(nn.Module):
    """Model + head as one module whose forward is the stage loss (what DDP wraps)."""

    def __init__(self, bundle: ModelBundle) -> None:
        super().__init__()
        self.bundle = bundle
        self.model = bundle.model
        self.head = bundle.head
        self.views = bundle.views  # the lateral's view embedding (None for a frontal-only model)
        self.pos_weight: torch.Tensor | None = None  # encoder stages: per-finding weight of a positive
        self.localize = 0.0  # encoder stages: weight of the localization term (0 = none)
        self.localized: torch.Tensor | None = None  # encoder stages: findings with recorded positions
        self.outline = 0.0  # encoder stages: weight of the outline term (0 = none)
        self.outline_head: nn.Module | None = None  # encoder stages: training only, like measures
        # encoder stages: the auxiliary regression of the films' recorded measures (None = off) and its
        # weight; it shapes the tower during training and is not part of the saved model
        self.measures: nn.Module | None = None
        self.measure_weight = 1.0
        self.adversary: PatientAdversary | None = None  # encoder stages: training only, like measures
        self.head_weight = 1.0  # corrections stages: weight of the findings loss beside the text loss

    def forward(
        self, kind: str, images: torch.Tensor, payload: Any, max_tokens: int, study: Study | None = None
    ) -> torch.Tensor:
        b = self.bundle
        study = study or {}
        laterals, indications = study.get("laterals"), study.get("indications")
        if kind == "encoder":
            logits, detail, features = b.findings_pass(images, laterals)
            pw = None if self.pos_weight is None else self.pos_weight.to(logits.device)
            loss = b.head.loss(logits, payload, pw)
            if self.measures is not None:
                loss = loss + self.measure_weight * measure_loss(self.measures(features), payload["measures"])
            if self.adversary is not None:
                loss = loss + self.adversary.loss(features, payload["patient"])
            if self.localize:
                where = b.head.detail_logits(detail)
                # targets on the map's own grid, so nothing else needs to know the tower's strides
                targets, known = spot_targets(
                    payload["spots"], payload["presence"].cpu(), self.localized, payload["theta"],
                    (detail.shape[-2], detail.shape[-1]),
                )
                if "known" in payload:  # an uncertain finding is no negative for its positions either
                    known = known & (payload["known"].cpu() > 0)
                loss = loss + self.localize * localization_loss(where, targets, known)
            if self.outline_head is not None:
                assert detail is not None
                where = self.outline_head(detail.float()).flatten(2).transpose(1, 2)
                loss = loss + self.outline * outline_loss(
                    where, payload["outlines"], payload["outline_known"], payload["theta"])
            return loss
        if kind == "corrections":
            return self._corrections_loss(images, payload, max_tokens, study)
        examples: list[TextExample] = payload
        prompts = text_prompts(b, examples, laterals, indications)
        return b.lm_forward(images, prompts, [e.target for e in examples], max_tokens, laterals).loss

    def _corrections_loss(
        self, images: torch.Tensor, payload: dict[str, Any], max_tokens: int, study: Study
    ) -> torch.Tensor:
        """Text loss on corrected (and replayed) reports + findings loss on their (replayed) states."""
        b = self.bundle
        loss = torch.zeros((), device=images.device)
        head = payload.get("head")
        if head is not None:
            logits, _ = b.findings_outputs(head["images"], study.get("head_laterals"))
            pw = None if self.pos_weight is None else self.pos_weight.to(head["images"].device)
            loss = loss + self.head_weight * b.head.loss(logits, head["targets"], pw)
        examples = payload.get("text")
        if examples:
            laterals = study.get("laterals")
            prompts = text_prompts(b, examples, laterals, study.get("indications"))
            targets = [e.target for e in examples]
            loss = loss + b.lm_forward(images, prompts, targets, max_tokens, laterals).loss
        return loss


def text_prompts(
    bundle: ModelBundle,
    examples: list[TextExample],
    laterals: list[torch.Tensor | None] | None = None,
    indications: list[str] | None = None,
) -> list[str]:
    """Each example's prompt (report or question) with its study's lateral and indication, if read."""
    out = []
    for i, e in enumerate(examples):
        lat = [laterals[i]] if laterals is not None else None
        ind = [indications[i]] if indications is not None else None
        if e.question is None:
            out += bundle.report_prompts([list(e.prompt_findings or ())], lat, ind)
        else:
            out += bundle.question_prompts([e.question], lat, ind)
    return out


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
    outlines: torch.Tensor | None = None  # encoder: (records, findings, G, G) uint8 drawn extents
    outline_known: torch.Tensor | None = None  # encoder: (records, findings) which have outlines
    measures: torch.Tensor | None = None  # encoder: (records, MEASURES) standardised, NaN where unrecorded
    patients: torch.Tensor | None = None  # encoder: (records,) CT patient index, UNKNOWN where unrecorded
    patient_names: list[str] = field(default_factory=list)
    # corrections with teach.findings: image rows and findings targets the head trains on
    head_rows: list[int] = field(default_factory=list)
    head_targets: dict[str, torch.Tensor] | None = None
    corrected: set[str] = field(default_factory=set)  # findings whose state a correction changed
    correction_records: list[Record] = field(default_factory=list)
    study: StudyLookup | None = None  # laterals and indications of frontal rows (the stage's inputs)
    # how much the training mix (encoder) or replay pool (corrections) raised each finding's log-odds
    prior_shifts: dict[str, float] = field(default_factory=dict)

    def lookup(self) -> StudyLookup:
        return self.study if self.study is not None else StudyLookup(self.images)

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
    data.study = study_lookup(stage, records, rows, images)
    if stage.kind == "encoder":
        data.train_targets = findings_targets(train, slots)
        data.pos_weight = pos_weights(data.train_targets["presence"], known=data.train_targets["known"])
        data.prior_shifts = ev.record_prior_shifts(train, slots, data.train_targets["presence"])
        if stage.localize:
            data.spots = [record_spots(r, slots) for r in train]
            data.localized = localized_slots(data.spots, len(slots))
        if stage.outline:
            data.outlines, data.outline_known = outline_targets(train, slots)
        if stage.measures:
            data.measures = measure_targets(train)[0]
        if stage.patient_adversary:
            data.patients, data.patient_names = patient_targets(train)
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
            data.prior_shifts = ev.record_prior_shifts(corrections.replay_pool(stage, records), slots)
        data.eval_examples = report_examples(eval_records, eval_rows)
    if stage.kind != "encoder" and not data.examples and not data.head_rows:
        from medvlm.errors import CurriculumError

        raise CurriculumError(f"stage {stage.name!r}: its sources give no training examples")
    return data


def study_lookup(
    stage: Stage, records: dict[str, list[Record]], rows: dict[str, int], images: torch.Tensor
) -> StudyLookup:
    """The laterals (cached rows) and indications of every record's frontal row, as far as the stage reads
    them (``stage.inputs``)."""
    study = StudyLookup(images)
    for recs in records.values():
        for r in recs:
            frontal = rows.get(str(r.files[0]))
            if frontal is None:
                continue
            if "lateral" in stage.inputs and r.lateral is not None and str(r.lateral) in rows:
                study.lateral_row[frontal] = rows[str(r.lateral)]
            if "indication" in stage.inputs and r.indication:
                study.indication[frontal] = r.indication
    return study


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
    study = data.lookup()
    laterals, indications = study.laterals(data.eval_rows), study.indications(data.eval_rows)
    metrics: dict[str, float] = {}
    for task in stage.eval_tasks:
        if task == "findings" and imgs is not None:
            metrics.update(ev.findings_metrics(bundle, imgs, data.eval_records, laterals))
        elif task == "qa":
            metrics.update(ev.qa_accuracy(bundle, data.images, data.eval_examples, study))
        elif task == "report" and imgs is not None:
            metrics.update(ev.report_metrics(
                bundle, imgs, data.eval_records, stage.max_answer_tokens, laterals, indications
            ))
        elif task == "loss":
            examples = data.eval_examples
            metrics["loss"] = ev.text_loss(bundle, data.images, examples, stage.max_answer_tokens, study)
    bundle.model.train()
    bundle.head.train()
    return metrics


def _outline_head(stage: Stage, bundle: ModelBundle, data: StageData, main: bool) -> nn.Module | None:
    """The stage's outline map (a 1 x 1 convolution on the tower's detail map, one channel per finding), or
    None (said once) when the model or the data cannot use it. Training only, like the measures head: the
    tower learns where findings are; the findings head's presence path keeps its labels and spots (the
    head's own detail map taught the outlines measured worse, docs/performance.md)."""
    if not stage.outline:
        return None
    known = data.outline_known
    has_masks = known is not None and bool(known.any())
    why = _detail_term_unusable(
        bundle, has_masks, "carries masks (built before masks were written, or real films)")
    if why is None and known is not None and bundle.head.detail is not None:
        return nn.Conv2d(bundle.head.detail.in_channels, known.shape[1], 1)
    if main:
        print(f"[{stage.name}] outline not used: {why}")
    return None


def _detail_term_unusable(bundle: ModelBundle, has_data: bool, missing: str) -> str | None:
    """Why a term on the tower's detail map cannot run (None: it can): no map, or no film that ``missing``."""
    if bundle.head.detail is None:
        return "this model's findings head has no detail map (a path: checkpoint)"
    return None if has_data else f"no film in its sources {missing}"


def _localize_weight(stage: Stage, bundle: ModelBundle, data: StageData, main: bool) -> float:
    """The stage's localize weight, or 0 (said once) when the model or the data cannot use it."""
    if not stage.localize:
        return 0.0
    has_positions = data.localized is not None and bool(data.localized.any())
    why = _detail_term_unusable(bundle, has_positions, "records finding positions")
    if why is None:
        return stage.localize
    if main:
        print(f"[{stage.name}] localize not used: {why}")
    return 0.0


def _measures_head(stage: Stage, data: StageData, feature_dim: int, main: bool) -> nn.Module | None:
    """The stage's measures regression, or None (said once) when no training film records its measures."""
    if not stage.measures:
        return None
    if has_measures(data.measures):
        return nn.Linear(feature_dim, len(MEASURES))
    if main:
        print(f"[{stage.name}] measures not used: no film in its sources records them")
    return None


def _adversary(stage: Stage, data: StageData, feature_dim: int, main: bool) -> PatientAdversary | None:
    """The stage's patient adversary, or None (said once) when its films come from fewer than two patients."""
    if not stage.patient_adversary:
        return None
    seen = set() if data.patients is None else set(data.patients.tolist()) - {UNKNOWN}
    if len(seen) >= 2:
        return PatientAdversary(feature_dim, len(data.patient_names), stage.patient_adversary)
    if main:
        print(f"[{stage.name}] patient_adversary not used: its films come from {len(seen)} CT patient(s)")
    return None


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
) -> tuple[torch.Tensor, Any, Study]:
    """Text images + examples ``idx`` and head images + targets ``head_idx`` of a corrections batch,
    and their studies' laterals / indications."""
    payload: dict[str, Any] = {"text": None, "head": None}
    images = torch.zeros(0)
    study: Study = {}
    if data.examples:
        payload["text"] = [data.examples[i] for i in idx]
        rows = [e.image for e in payload["text"]]
        images = data.images[rows].float()
        if stage.augment:
            images, _ = augment(images, g, stage.bias_field)
        study.update(_study(stage, data, rows, g, device))
    if data.head_rows:
        rows = [data.head_rows[i] for i in head_idx]
        head_images = data.images[rows].float()
        if stage.augment:
            head_images, _ = augment(head_images, g, stage.bias_field)
        targets = {k: v[head_idx].to(device) for k, v in (data.head_targets or {}).items()}
        payload["head"] = {"images": head_images.to(device), "targets": targets}
        study["head_laterals"] = _study(stage, data, rows, g, device)["laterals"]
    return images.to(device), payload, study


def _study(stage: Stage, data: StageData, rows: list[int], g: torch.Generator, device: torch.device) -> Study:
    """Laterals (augmented like the frontals, drawn after them) and indications of frontal ``rows``."""
    lookup = data.lookup()

    def transform(films: torch.Tensor) -> torch.Tensor:
        return (augment(films, g, stage.bias_field)[0] if stage.augment else films).to(device)

    return {"laterals": lookup.laterals(rows, transform), "indications": lookup.indications(rows)}


def _inputs(
    stage: Stage, data: StageData, idx: list[int], g: torch.Generator, localize: float, device: torch.device,
    outline: float = 0.0,
) -> tuple[torch.Tensor, Any, Study]:
    """Images (augmented when the stage says so), the loss payload of the examples ``idx`` and their
    studies' laterals / indications."""
    if stage.kind == "encoder":
        rows = [data.train_rows[i] for i in idx]
        payload: Any = {k: v[idx].to(device) for k, v in (data.train_targets or {}).items()}
        if data.measures is not None:
            payload["measures"] = data.measures[idx].to(device)
        if data.patients is not None:
            payload["patient"] = data.patients[idx].to(device)
    else:
        examples = [data.examples[i] for i in idx]
        rows, payload = [e.image for e in examples], examples
    images = data.images[rows].float()
    theta = None
    if stage.augment:
        images, theta = augment(images, g, stage.bias_field)
    if localize:  # encoder stages only (the schema says so): positions follow the augmentation
        assert data.spots is not None
        payload["spots"] = [data.spots[i] for i in idx]
    if outline:  # encoder stages only: the drawn extents follow the augmentation too
        assert data.outlines is not None and data.outline_known is not None
        payload["outlines"] = data.outlines[idx]
        payload["outline_known"] = data.outline_known[idx]
    if localize or outline:
        payload["theta"] = identity_theta(len(idx)) if theta is None else theta
    return images.to(device), payload, _study(stage, data, rows, g, device)


def _target_tokens(payload: Any) -> Callable[[], int]:
    """Rough tokens of a text batch (words of the targets) for the tokens/s figure; 0 for encoder stages."""
    if isinstance(payload, dict):
        payload = payload.get("text") or []  # corrections: its text part; encoder: none
    return lambda: sum(len(e.target.split()) for e in payload)
