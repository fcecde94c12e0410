"""Where each finding was drawn, as dense targets for the tower's detail features (curriculum ``outline``).

``localize`` teaches the head's detail map the centre and radius of each granuloma, nodule or mass. A build
now records every outlined finding's whole extent (``medvlm.dataset.masks``: the fluid of an effusion, the
collapsed lung, the consolidated region, a device's course), so the tower can be taught where each finding
is on every film, and nowhere on a film without it: dense teaching that does not depend on recognising the
body (DESIGN.md: exact ground truth from the renderer). The targets are read by a training-only 1 x 1 map
(``stage._outline_head``); taught to the head's own detail map, whose maximum joins the presence logits,
they measured worse (docs/performance.md). Films without masks (real films, older builds) add no term.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.nn import functional as F

from medvlm.dataset.masks import CHANNELS, ORGANS, read_masks
from medvlm.model.configuration import FindingSlot
from medvlm.training.manifest import Record
from medvlm.training.outlines import warp_masks

GRID = 32  # targets are stored at this size (the tiny tower's stride-8 map of a 256-px film) as uint8
FINDINGS = tuple(c for c in CHANNELS if c not in ORGANS)


def outline_targets(
    records: Sequence[Record], slots: Sequence[FindingSlot], grid: int = GRID
) -> tuple[torch.Tensor, torch.Tensor]:
    """(R, len(slots), grid, grid) uint8 coverage (0..255) of each outlined finding per record, and (R,
    len(slots)) bool: known where the record has masks and the slot is an outlined finding."""
    names = [s.name for s in slots]
    index = [(names.index(f), i) for i, f in enumerate(FINDINGS) if f in names]
    targets = torch.zeros((len(records), len(slots), grid, grid), dtype=torch.uint8)
    known = torch.zeros((len(records), len(slots)), dtype=torch.bool)
    for r, record in enumerate(records):
        masks = read_masks(record.masks, FINDINGS)
        if masks is None or not index:
            continue
        cover = F.interpolate(torch.from_numpy(masks).float()[None], size=(grid, grid), mode="area")[0]
        for slot, channel in index:
            targets[r, slot] = (cover[channel] * 255).round().to(torch.uint8)
            known[r, slot] = True
    return targets, known


def outline_loss(
    where: torch.Tensor, targets: torch.Tensor, known: torch.Tensor, theta: torch.Tensor
) -> torch.Tensor:
    """The outline map's logits ``where`` (B, H*W, n) against ``targets`` (B, n, G, G uint8) moved with the
    augmentation ``theta`` and resized to the map: per-position BCE plus 1 - soft Dice where a finding was
    drawn; summed over a film's known findings and averaged over the batch, as the findings loss and the
    localization term are, so a weight of 1 weighs it like them."""
    side = math.isqrt(where.shape[1])  # the tower's detail maps are square
    moved = warp_masks(targets.float().div(255.0), theta.float())
    moved = F.interpolate(moved, size=(side, side), mode="area").flatten(2).transpose(1, 2).to(where.device)
    known = known.to(where.device)
    bce = F.binary_cross_entropy_with_logits(where.float(), moved, reduction="none").mean(dim=1)
    p = torch.sigmoid(where.float())
    inter = (p * moved).sum(dim=1)
    dice = 1 - (2 * inter + 1) / (p.sum(dim=1) + moved.sum(dim=1) + 1)
    drawn = moved.sum(dim=1) > 0.5
    per_pair = bce + torch.where(drawn, dice, torch.zeros_like(dice))
    return (per_pair * known).sum(dim=1).mean()


__all__ = ["FINDINGS", "GRID", "outline_loss", "outline_targets"]
