"""Periodic evaluation of a stage on its eval source: findings AUROC/F1, Q&A accuracy, report CE-F1, loss."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from medvlm.evaluation.classification import auroc, f1, known_only, macro, supported_macro
from medvlm.model.bundle import ModelBundle
from medvlm.registry.gate import FINDING_AUROC, FINDING_POSITIVES
from medvlm.training.examples import TextExample, findings_targets, positives
from medvlm.training.manifest import Record
from medvlm.training.study import StudyLookup

Laterals = list[torch.Tensor | None] | None


def _part(values: list | None, start: int, stop: int) -> list | None:  # type: ignore[type-arg]
    return None if values is None else values[start:stop]


@torch.no_grad()
def findings_probabilities(
    bundle: ModelBundle, images: torch.Tensor, batch: int = 64, laterals: Laterals = None
) -> np.ndarray:
    out = []
    for i in range(0, images.shape[0], batch):
        logits = bundle.findings_logits(images[i : i + batch].float(), _part(laterals, i, i + batch))
        out.append(torch.sigmoid(bundle.head.presence_logits(logits)).float().cpu())
    return torch.cat(out).numpy()


def findings_metrics(
    bundle: ModelBundle, images: torch.Tensor, records: Sequence[Record], laterals: Laterals = None
) -> dict[str, float]:
    probs = findings_probabilities(bundle, images, laterals=laterals)
    truth, known = _truth(records, bundle)
    metrics: dict[str, float] = {}
    aurocs, positive_counts, f1s = [], [], []
    for i, name in enumerate(bundle.names):
        t, p = known_only(truth[:, i], probs[:, i], known[:, i])  # uncertain labels are not scored
        auc = auroc(t, p)  # None for a finding whose truth has one class only
        if auc is not None:
            metrics[FINDING_AUROC + name] = auc
            metrics[FINDING_POSITIVES + name] = float(t.sum())  # how far the promotion gate trusts it
        aurocs.append(auc)
        positive_counts.append(float(t.sum()))
        f1s.append(f1(t, (p >= bundle.config.threshold(name)).astype(np.int64)))
    # The definitions medvlm eval uses (medvlm.evaluation.classification); 0.0 when none is defined.
    metrics["findings.macro_auroc"] = macro(aurocs) or 0.0
    # what checkpoint selection reads; the plain macro where no finding has enough eval positives
    supported = supported_macro(aurocs, positive_counts)
    plain = metrics["findings.macro_auroc"]
    metrics["findings.macro_auroc_supported"] = plain if supported is None else supported
    metrics["findings.macro_f1"] = macro(f1s) or 0.0
    return metrics


def fbeta_threshold(truth: np.ndarray, probs: np.ndarray, beta: float = 1.0) -> float:
    """The probability cut-off in [0.05, 0.95] that maximises F-beta of one finding (ties: the higher cut)."""
    grid = np.linspace(0.05, 0.95, 37)
    b2 = beta * beta
    positives = float(truth.sum())
    scores = []
    for t in grid:
        pred = probs >= t
        tp = float((pred & (truth == 1)).sum())
        scores.append((1 + b2) * tp / max(b2 * positives + float(pred.sum()), 1.0))
    best = max(scores)
    return float(max(t for t, s in zip(grid, scores, strict=True) if s >= best - 1e-12))


# A cut's calls must be right more often than the finding's base rate p: by at least this share of the room
# above it, (precision - p) / (1 - p). 0 is a guess at the base rate, 1 is never wrong.
MIN_PRECISION_GAIN = 0.05


def prior_shifts(presence: torch.Tensor, oversampled: Sequence[bool], slots: Sequence) -> dict[str, float]:
    """Per finding, how much the training mix raised its log-odds: the log-odds ratio of its prevalence in
    all training records (``presence``, N x findings, as ``findings_targets`` gives it) to that in the
    records not rendered again for a rare finding (``oversampled`` False; ``medvlm data build
    --min-positives`` marks the others ``provenance.oversampled_for``). Empty without oversampling; a
    finding whose prevalence is 0 or 1 in either set is left out. The head's probabilities carry the
    training prior; a threshold tuned on the (natural) validation split absorbs it, a floor does not
    (``finding_threshold``)."""
    chosen = ~torch.as_tensor(list(oversampled), dtype=torch.bool)
    if int(chosen.sum()) in (0, len(chosen)):
        return {}
    everything, natural = presence.float().mean(dim=0), presence[chosen].float().mean(dim=0)
    shifts = {}
    for i, slot in enumerate(slots):
        mixed, plain = float(everything[i]), float(natural[i])
        if 0 < mixed < 1 and 0 < plain < 1:
            shifts[slot.name] = round(_logit(mixed) - _logit(plain), 4)
    return shifts


def record_prior_shifts(
    records: Sequence[Record], slots: Sequence, presence: torch.Tensor | None = None
) -> dict[str, float]:
    """``prior_shifts`` of a stage's training records (an encoder's mix, a corrections stage's replay
    pool); ``presence`` where the caller has the records' targets already."""
    if not records:
        return {}
    if presence is None:
        presence = findings_targets(list(records), slots)["presence"]
    return prior_shifts(presence, [oversampled(r) for r in records], slots)


def oversampled(record: Record) -> bool:
    """Whether the build rendered this record again for a rare finding (``provenance.oversampled_for``)."""
    return "oversampled_for" in (record.provenance or {})


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def shifted_floor(floor: float, shift: float) -> float:
    """``floor`` on the natural prior, as a cut on probabilities that carry the training prior."""
    if shift == 0:
        return floor  # exactly: no round trip through the logit
    return float(1 / (1 + np.exp(-(_logit(floor) + shift))))


def finding_threshold(
    truth: np.ndarray, probs: np.ndarray, beta: float = 1.0, min_positives: int = 0, floor: float = 0.9
) -> float:
    """One finding's cut-off: F-beta's, but at least ``floor`` when the eval source has fewer than
    ``min_positives`` positives, or when the F-beta cut's calls are hardly more often right than the
    finding's base rate (``MIN_PRECISION_GAIN``). A cut picked on a handful of cases swings between
    seeds (one seed's validation split of 13 nodules gave 0.75 where the other gave 0.90, and 14 of its
    20 test nodule calls were wrong); a rare finding then needs a confident score to be stated in a
    draft. And for a finding the model cannot tell apart, F-beta's best cut is "every film" (a model at
    chance on calcified granulomas called one on 948 of 953 test films): a draft should not state what
    the model cannot see."""
    positives = int(truth.sum())
    cut = fbeta_threshold(truth, probs, beta) if positives else 0.5
    if positives < min_positives:
        return max(cut, floor)
    called = probs >= cut
    base_rate = positives / max(truth.size, 1)
    if 0 < base_rate < 1 and called.any():
        gain = (float(truth[called].mean()) - base_rate) / (1 - base_rate)
        if gain < MIN_PRECISION_GAIN:
            return max(cut, floor)
    return cut


def tune_thresholds(
    bundle: ModelBundle,
    images: torch.Tensor,
    records: Sequence[Record],
    beta: float = 1.0,
    min_positives: int = 0,
    floor: float = 0.9,
    laterals: Laterals = None,
    shifts: dict[str, float] | None = None,
) -> dict[str, float]:
    """Per-finding presence threshold maximising F-beta on the validation source (kept in the bundle
    config); ``beta`` < 1 favours precision (fewer hallucinated findings in drafts). See
    ``finding_threshold`` for ``min_positives`` and ``floor``; a finding the training mix oversampled has
    its floor moved by its ``prior_shifts`` entry (the floor is meant on the natural prior)."""
    probs = findings_probabilities(bundle, images, laterals=laterals)
    truth, known = _truth(records, bundle)
    thresholds = {}
    for i, name in enumerate(bundle.names):
        t, p = known_only(truth[:, i], probs[:, i], known[:, i])  # uncertain labels left out
        own_floor = shifted_floor(floor, (shifts or {}).get(name, 0.0))
        thresholds[name] = finding_threshold(t, p, beta, min_positives, own_floor)
    return thresholds


def _truth(records: Sequence[Record], bundle: ModelBundle) -> tuple[np.ndarray, np.ndarray]:
    """(presence 0/1, known bool) matrices; known is False where a finding is only uncertain."""
    targets = findings_targets(list(records), bundle.config.slots)
    presence = targets["presence"].numpy()
    known = targets["known"].numpy() > 0 if "known" in targets else np.ones(presence.shape, dtype=bool)
    return presence, known


@torch.no_grad()
def qa_accuracy(
    bundle: ModelBundle,
    images: torch.Tensor,
    examples: Sequence[TextExample],
    study: StudyLookup | None = None,
) -> dict[str, float]:
    correct = 0
    study = study or StudyLookup(images)
    for i in range(0, len(examples), 32):
        chunk = examples[i : i + 32]
        rows = [e.image for e in chunk]
        imgs = torch.stack([images[r].float() for r in rows])
        answers = bundle.answer(
            imgs, [e.question or "" for e in chunk], 4, study.laterals(rows), study.indications(rows)
        )
        correct += sum(a.split()[:1] == e.target.split()[:1] for a, e in zip(answers, chunk, strict=True))
    return {"qa.accuracy": correct / max(len(examples), 1)}


@torch.no_grad()
def report_metrics(
    bundle: ModelBundle,
    images: torch.Tensor,
    records: Sequence[Record],
    max_new_tokens: int,
    laterals: Laterals = None,
    indications: list[str] | None = None,
) -> dict[str, float]:
    """Draft from *predicted* findings (the deployed path), label the draft, score against the truth,
    and against the findings it was prompted with (``report.prompt_f1``: the text alone)."""
    from medvlm.evaluation.clinical import clinical_scores, positive_labels, prompt_agreement
    from medvlm.labeler import label_report

    stated, truth, prompted = [], [], []
    for i in range(0, len(records), 16):
        imgs = images[i : i + 16].float()
        lats = _part(laterals, i, i + 16)
        predicted = bundle.predict_findings(imgs, lats)
        drafts = bundle.generate_report(imgs, predicted, max_new_tokens, lats, _part(indications, i, i + 16))
        for (text, impression), record, prompt in zip(drafts, records[i : i + 16], predicted, strict=True):
            stated.append(positive_labels(label_report(f"{text}\n{impression}")))
            truth.append(positive_labels(positives(record)))
            prompted.append(positive_labels(prompt))
    return {**clinical_scores(stated, truth).as_metrics(), **prompt_agreement(stated, prompted)}


@torch.no_grad()
def text_loss(
    bundle: ModelBundle,
    images: torch.Tensor,
    examples: Sequence[TextExample],
    max_tokens: int,
    study: StudyLookup | None = None,
) -> float:
    from medvlm.training.stage import text_prompts

    losses = []
    study = study or StudyLookup(images)
    for i in range(0, len(examples), 16):
        chunk = list(examples[i : i + 16])
        rows = [e.image for e in chunk]
        imgs = torch.stack([images[r].float() for r in rows])
        laterals = study.laterals(rows)
        prompts = text_prompts(bundle, chunk, laterals, study.indications(rows))
        out = bundle.lm_forward(imgs, prompts, [e.target for e in chunk], max_tokens, laterals)
        losses.append(float(out.loss))
    return float(np.mean(losses)) if losses else 0.0
