"""Anatomical measures a rendered film records, taught beside the findings as an auxiliary regression.

A synthetic film's provenance holds what the renderer drew: the cardiothoracic ratio it measured on the film
and the height of each side's effusion. On the unseen CT patient the reference reads cardiomegaly at AUROC
0.57 although that patient's drawn CTRs separate it at 0.999; the idea was to make the tower state the
measurement itself. Measured (docs/performance.md, eighteenth session; `measures: 2.0`): its features then
give the CTR with r 0.70 on the training patients' test films (0.51 without) but 0.13 on the unseen patient,
the effusion heights are not learnt (mostly zero: an L1-type loss learns the median), and in-patient
macro-AUROC falls 0.020. Not in the shipped curricula. Films without these records add no loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from medvlm.training.manifest import Record

MEASURES = ("ctr", "effusion_right_mm", "effusion_left_mm")


def record_measures(record: Record) -> list[float]:
    """The record's measures in MEASURES order; NaN where the film does not record them."""
    render = record.provenance.get("render") or {}
    ctr = render.get("ctr")
    if ctr is None:
        return [math.nan] * len(MEASURES)
    levels = {"right": 0.0, "left": 0.0}  # a film with a recorded CTR records every effusion it drew
    for finding in render.get("findings") or []:
        if finding.get("label") == "pleural_effusion":
            for side, level in zip(finding.get("sides") or [], finding.get("level_mm") or [], strict=False):
                if side in levels:
                    levels[side] = float(level)
    return [float(ctr), levels["right"], levels["left"]]


def measure_targets(records: Sequence[Record]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, M) targets standardised over the records that have them (NaN elsewhere), and the mean and
    standard deviation used, so a prediction can be read back in the measure's own units."""
    raw = torch.tensor([record_measures(r) for r in records], dtype=torch.float32).reshape(-1, len(MEASURES))
    known = ~raw.isnan()
    mean = torch.stack([raw[known[:, j], j].mean() if known[:, j].any() else torch.tensor(0.0)
                        for j in range(raw.shape[1])])
    std = torch.stack([raw[known[:, j], j].std() if known[:, j].sum() > 1 else torch.tensor(1.0)
                       for j in range(raw.shape[1])]).clamp_min(1e-6)
    return (raw - mean) / std, mean, std


def has_measures(targets: torch.Tensor | None) -> bool:
    return targets is not None and bool((~targets.isnan()).any())


def measure_loss(predicted: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Smooth L1 on standardised measures, summed over measures, mean over the films that record them."""
    known = ~targets.isnan()
    if not bool(known.any()):
        return predicted.sum() * 0.0
    per = F.smooth_l1_loss(predicted[known], targets[known], reduction="sum")
    return per / known.any(dim=1).sum().clamp_min(1)
