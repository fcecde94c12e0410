"""Findings-head metrics: per-label AUROC and F1, their macro means, and expected calibration error.

Labels whose ground truth holds a single class have no AUROC; they are reported as ``None`` and left
out of the macro mean rather than counted as 0.5 (which would flatter or punish a model at random).

AUROCs come with 95 % percentile-bootstrap intervals: test sets here hold a handful of positives for the
rare findings (and 18 negatives for the real films' opacity), so a point estimate alone invites reading
noise as a result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score, roc_curve

from medvlm.registry.gate import FINDING_MIN_POSITIVES

BOOTSTRAP_RESAMPLES = 1000
INTERVAL_LEVEL = 0.95


@dataclass(frozen=True)
class LabelScore:
    label: str
    auroc: float | None
    f1: float | None
    support: int  # ground-truth positives
    predicted: int  # predicted positives at the threshold
    auroc_ci: tuple[float, float] | None = None  # 95 % bootstrap interval


def _as_arrays(y_true: Sequence[int] | np.ndarray, y_prob: Sequence[float] | np.ndarray) -> tuple:
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_prob, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"truth and probabilities differ in length: {t.shape[0]} vs {p.shape[0]}")
    if t.size and not np.isin(t, (0, 1)).all():
        raise ValueError("truth must be 0/1")
    if p.size and (np.isnan(p).any() or (p < 0).any() or (p > 1).any()):
        raise ValueError("probabilities must lie in [0, 1]")
    return t, p


def known_only(
    y_true: Sequence[int] | np.ndarray, y_other: Sequence[float] | np.ndarray, known: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs whose truth is known: an uncertain label (known False) is neither a positive nor a
    negative, so AUROC, F1 and threshold tuning all leave it out the same way."""
    t, o = np.asarray(y_true), np.asarray(y_other)
    if known is None:
        return t, o
    k = np.asarray(known, dtype=bool)
    if k.shape != t.shape:
        raise ValueError(f"known mask and truth differ in shape: {k.shape} vs {t.shape}")
    return t[k], o[k]


def auroc(y_true: Sequence[int] | np.ndarray, y_prob: Sequence[float] | np.ndarray) -> float | None:
    """Area under the ROC curve; None when the truth has only one class (undefined)."""
    t, p = _as_arrays(y_true, y_prob)
    if t.size == 0 or t.min() == t.max():
        return None
    return float(roc_auc_score(t, p))


def _mann_whitney(t: np.ndarray, p: np.ndarray) -> float:
    """AUROC from ranks (ties count one half, as roc_auc_score counts them); both classes present."""
    ranks = rankdata(p)
    positives = int(t.sum())
    negatives = t.size - positives
    return float((ranks[t == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _percentiles(values: list[float], level: float) -> tuple[float, float] | None:
    if not values:
        return None
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return round(float(lo), 4), round(float(hi), 4)


def auroc_interval(
    y_true: Sequence[int] | np.ndarray, y_prob: Sequence[float] | np.ndarray, *,
    level: float = INTERVAL_LEVEL, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of the AUROC; None where the AUROC is undefined. Positives and
    negatives are resampled apart, so every resample keeps both classes and the set's prevalence."""
    t, p = _as_arrays(y_true, y_prob)
    if t.size == 0 or t.min() == t.max():
        return None
    rng = np.random.default_rng(seed)
    pos, neg = p[t == 1], p[t == 0]
    truth = np.concatenate([np.ones(pos.size, np.int64), np.zeros(neg.size, np.int64)])
    values = [
        _mann_whitney(truth, np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)]))
        for _ in range(resamples)
    ]
    return _percentiles(values, level)


def resampled_aurocs(
    y_true: np.ndarray, probs: Sequence[np.ndarray], known: np.ndarray | None = None, *,
    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
) -> np.ndarray:
    """(resamples x models x labels) AUROCs of one or more models' (studies x labels) probabilities on
    the same bootstrap resamples of the studies (a study's labels stay together; NaN where a resample's
    label holds one class). One set of resamples for every model is what makes a paired comparison."""
    t = np.asarray(y_true, dtype=np.int64)
    ps = [np.asarray(p, dtype=np.float64) for p in probs]
    k = np.ones_like(t, dtype=bool) if known is None else np.asarray(known, dtype=bool)
    if t.ndim != 2 or t.shape[0] == 0 or t.shape != k.shape or any(p.shape != t.shape for p in ps):
        shapes = ", ".join(str(x.shape) for x in (t, *ps, k))
        raise ValueError(f"expected matching (studies x labels) matrices, got {shapes}")
    rng = np.random.default_rng(seed)
    out = np.full((resamples, len(ps), t.shape[1]), np.nan)
    for b in range(resamples):
        rows = rng.integers(0, t.shape[0], t.shape[0])
        for j in range(t.shape[1]):
            kept = k[rows, j]
            tj = t[rows, j][kept]
            if tj.size and tj.min() != tj.max():
                for m, p in enumerate(ps):
                    out[b, m, j] = _mann_whitney(tj, p[rows, j][kept])
    return out


def interval_of(values: np.ndarray, level: float = INTERVAL_LEVEL) -> tuple[float, float] | None:
    """The central ``level`` percentile interval of bootstrap values (NaNs, undefined resamples, left out)."""
    return _percentiles([float(v) for v in np.asarray(values).ravel() if not np.isnan(v)], level)


def interval_text(value: Sequence[float] | None, empty: str = "n/a") -> str:
    """An interval as the reports print it ("0.595-0.689"); ``empty`` where there is none."""
    return f"{value[0]:.3f}-{value[1]:.3f}" if value else empty


def macro_auroc_interval(
    y_true: np.ndarray, y_prob: np.ndarray, known: np.ndarray | None = None, *,
    level: float = INTERVAL_LEVEL, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of the macro AUROC over a (studies x labels) set: studies are
    resampled, each resample's macro taken as ``macro`` takes it (over the labels it can score)."""
    aurocs = resampled_aurocs(y_true, [y_prob], known, resamples=resamples, seed=seed)[:, 0, :]
    defined = ~np.isnan(aurocs).all(axis=1)
    return interval_of(np.nanmean(aurocs[defined], axis=1), level)


def f1(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray) -> float | None:
    """Binary F1 of the positive class; None when there are neither true nor predicted positives."""
    t, p = _as_arrays(y_true, np.asarray(y_pred, dtype=np.float64))
    tp = int(((t == 1) & (p == 1)).sum())
    fp = int(((t == 0) & (p == 1)).sum())
    fn = int(((t == 1) & (p == 0)).sum())
    if tp + fp + fn == 0:
        return None
    return 2 * tp / (2 * tp + fp + fn)


def roc_points(
    y_true: Sequence[int] | np.ndarray, y_prob: Sequence[float] | np.ndarray
) -> tuple[list[float], list[float]] | None:
    """(false positive rates, true positive rates) for plotting; None when AUROC is undefined."""
    t, p = _as_arrays(y_true, y_prob)
    if t.size == 0 or t.min() == t.max():
        return None
    fpr, tpr, _ = roc_curve(t, p)
    return fpr.tolist(), tpr.tolist()


def expected_calibration_error(
    y_true: Sequence[int] | np.ndarray, y_prob: Sequence[float] | np.ndarray, bins: int = 10
) -> float:
    """ECE over every (study, label) probability: sum over equal-width bins of |fraction positive - mean
    probability| weighted by the bin's share. Bins are [0, 0.1), ..., [0.9, 1.0] (1.0 in the last)."""
    t, p = _as_arrays(y_true, y_prob)
    if t.size == 0:
        raise ValueError("ECE needs at least one prediction")
    index = np.minimum((p * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.sum() / t.size * abs(t[mask].mean() - p[mask].mean())
    return float(total)


def score_labels(
    labels: Sequence[str], y_true: np.ndarray, y_prob: np.ndarray, threshold: float = 0.5,
    known: np.ndarray | None = None,
) -> list[LabelScore]:
    """Per-label scores for a (studies x labels) truth matrix and probability matrix; ``known`` (same
    shape, bool) leaves out uncertain labels (see ``known_only``)."""
    t = np.asarray(y_true)
    p = np.asarray(y_prob, dtype=np.float64)
    if t.ndim != 2 or t.shape != p.shape or t.shape[1] != len(labels):
        raise ValueError(f"expected (studies x {len(labels)}) matrices, got {t.shape} and {p.shape}")
    out = []
    for j, label in enumerate(labels):
        tj, pj = known_only(t[:, j], p[:, j], None if known is None else known[:, j])
        pred = (pj >= threshold).astype(np.int64)
        out.append(LabelScore(label, auroc(tj, pj), f1(tj, pred), int(tj.sum()), int(pred.sum()),
                              auroc_interval(tj, pj)))
    return out


def macro(values: Sequence[float | None]) -> float | None:
    """Mean over defined values; None when none is defined."""
    defined = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(defined)) if defined else None


def supported_macro(aurocs: Sequence[float | None], positives: Sequence[float]) -> float | None:
    """Macro AUROC over the findings with at least ``FINDING_MIN_POSITIVES`` positives; None when none has.

    The plain macro gives a finding with 2 positives the weight of one with 130: on the IU test split mass (2)
    and pneumothorax (3) moved two models' macro by 0.05 while the other findings averaged the same (0.656),
    and on the validation split such swings chose a 3,600-step run's step-300 encoder."""
    return macro([a for a, n in zip(aurocs, positives, strict=True) if is_supported(n)])


def is_supported(positives: float) -> bool:
    """Enough positives to measure a finding's AUROC (and to call a difference in it): the gate's floor."""
    return positives >= FINDING_MIN_POSITIVES
