"""Where focal findings are: per-position targets for the findings head's detail map (encoder stages).

A synthetic film's provenance records every drawn granuloma, nodule or mass as ``pixel``: [row, col,
radius] in that film's pixels (``medvlm.synth.compose``). Taught only "this film has a granuloma", the tiny
tower needed ~1800 steps to reach a test AUROC of ~0.8 for granulomas; taught where it is as well, its
stride-8 map finds them within a few hundred steps. Films without recorded positions (real data, datasets
built before) simply add no localization term for the findings they are positive for.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from medvlm.model.configuration import FindingSlot
from medvlm.training.manifest import Record

Spot = tuple[int, float, float, float]  # slot index, row, col, radius (fractions of the film's side)


def record_spots(record: Record, slots: Sequence[FindingSlot]) -> list[Spot] | None:
    """The recorded spots of one film, or None when its provenance has no positions at all."""
    provenance = record.provenance or {}
    size = provenance.get("size")
    drawn = (provenance.get("render") or {}).get("findings")
    if not size or not isinstance(drawn, list):
        return None
    index = {slot.name: i for i, slot in enumerate(slots)}
    spots: list[Spot] = []
    for detail in drawn:
        if detail.get("label") not in index:
            continue
        for spot in detail.get("spots", []):
            if "pixel" not in spot:
                return None  # rendered before positions were recorded
            row, col, radius = spot["pixel"]
            spots.append((index[detail["label"]], (row + 0.5) / size, (col + 0.5) / size, radius / size))
    return spots


def localized_slots(spots: Sequence[list[Spot] | None], n_slots: int) -> torch.Tensor:
    """(n_slots,) bool: the findings that have at least one recorded position in the training data."""
    mask = torch.zeros(n_slots, dtype=torch.bool)
    for film in spots:
        for slot, *_ in film or []:
            mask[slot] = True
    return mask


def spot_targets(
    spots: Sequence[list[Spot] | None],
    presence: torch.Tensor,
    localized: torch.Tensor,
    theta: torch.Tensor,
    grid: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets (B, H*W, n) and a known mask (B, n) for the detail map of augmented images.

    ``theta`` (B, 2, 3) is the augmentation's ``affine_grid`` matrix (output -> input coordinates in
    [-1, 1], x first), so an input point p lands at A^-1 (p - t). A cell is positive when its centre lies
    within the spot's radius, and always the cell holding the spot's centre. A (film, finding) pair is known
    when the finding is localized and the film is negative for it, or positive with its positions recorded.
    """
    h, w = grid
    b, n = presence.shape
    targets = torch.zeros(b, h * w, n)
    known = localized.unsqueeze(0).expand(b, n).clone()
    rows = (torch.arange(h, dtype=torch.float32) + 0.5).view(h, 1)
    cols = (torch.arange(w, dtype=torch.float32) + 0.5).view(1, w)
    for i, film in enumerate(spots):
        if film is None:
            known[i] &= presence[i] == 0
            continue
        if not film:
            continue  # nothing drawn: every position is a negative
        inverse = torch.linalg.inv(theta[i, :, :2].float())
        for slot, row, col, radius in film:
            x, y = inverse @ (torch.tensor([col * 2 - 1, row * 2 - 1]) - theta[i, :, 2].float())
            cx, cy = (float(x) + 1) / 2 * w, (float(y) + 1) / 2 * h
            if not (0 <= cx < w and 0 <= cy < h):
                continue  # shifted out of the image
            r = max(radius * max(h, w), 0.5)
            disc = ((rows - cy) ** 2 + (cols - cx) ** 2 <= r * r).flatten()
            disc[int(cy) * w + int(cx)] = True
            targets[i, disc, slot] = 1.0
    return targets, known


def localization_loss(logits: torch.Tensor, targets: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """BCE per position, positives weighted by positions / 4 (one spot is a few of ~1000 cells; at weight
    8 the map learned to say "nowhere" and never found one), averaged over positions, summed over the
    known findings, mean over the batch."""
    positions = logits.shape[1]
    loss = F.binary_cross_entropy_with_logits(
        logits,
        targets.to(logits.device),
        pos_weight=torch.tensor(positions / 4.0, device=logits.device),
        reduction="none",
    ).mean(dim=1)
    return (loss * known.to(logits.device)).sum(dim=1).mean()
