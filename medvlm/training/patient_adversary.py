"""A patient adversary: features that cannot tell which CT patient a film was rendered from.

Trained on films of three CT patients, the reference's findings features name the CT patient of 98.6 % of
test films and give the drawn cardiothoracic ratio with r 0.51 on those patients but 0.10 on a fourth
(``benchmarks/feature_probe.py``): the tower reads each finding against the patient it recognises. A small
classifier learns the film's CT patient from the findings head's pooled features through a gradient-reversal
layer (Ganin & Lempitsky, 2015), so the tower is pushed to drop what identifies the patient while the
findings loss keeps what identifies the finding. Measured at scale 1.0 (docs/performance.md, eighteenth
session): patient accuracy 0.87, in-patient macro-AUROC -0.022, cross-patient +0.014 (no evidence); not in
the shipped curricula. Films without a recorded CT patient (real films) add no term.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from medvlm.training.manifest import Record

UNKNOWN = -1
HIDDEN = 64


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Identity forward; the gradient flowing back is multiplied by -scale."""
    return _Reverse.apply(x, scale)


def patient_targets(records: Sequence[Record]) -> tuple[torch.Tensor, list[str]]:
    """(N,) index of each record's CT patient (UNKNOWN where unrecorded) and the patients' names."""
    names = sorted({str(p) for r in records if (p := r.provenance.get("ct_patient"))})
    index = {n: i for i, n in enumerate(names)}
    ids = [index.get(str(r.provenance.get("ct_patient")), UNKNOWN) for r in records]
    return torch.tensor(ids, dtype=torch.long), names


class PatientAdversary(nn.Module):
    def __init__(self, feature_dim: int, patients: int, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.classify = nn.Sequential(nn.Linear(feature_dim, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, patients))

    def loss(self, features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the patient from reversed features: the classifier descends it, the tower
        ascends it ``scale`` times as strongly."""
        known = targets != UNKNOWN
        if not bool(known.any()):
            return features.sum() * 0.0
        logits = self.classify(reverse_gradient(features[known], self.scale))
        return F.cross_entropy(logits, targets[known])
