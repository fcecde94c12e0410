"""Teaching the outliner (``medvlm.model.outlines``) from the masks a synthetic build drew.

Images and masks get the same seeded shift / scale / rotation (``images.augment`` returns its matrices), and
the exposure jitter and a smooth brightness field, so an outline follows edges rather than absolute grey.
The loss is per-pixel binary cross-entropy plus a soft Dice per (film, channel) that has something drawn:
the heart and most findings are a small part of a film, and most films draw no finding at all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from medvlm.dataset.masks import CHANNELS, read_masks
from medvlm.model.outlines import OutlineNet
from medvlm.training.images import augment
from medvlm.training.manifest import Record


def masked_films(records: Sequence[Record], channels: tuple[str, ...] = CHANNELS
                 ) -> tuple[list[Record], list[np.ndarray]]:
    """The records whose frontal film carries masks, and those masks ((channels, H, W) bool each)."""
    kept, masks = [], []
    for r in records:
        m = read_masks(r.masks, channels)
        if m is not None:
            kept.append(r)
            masks.append(m)
    return kept, masks


def mask_tensor(masks: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """(N, channels, size, size) float16 in 0..1: each mask resized by area (edges stay soft)."""
    out = torch.empty((len(masks), masks[0].shape[0], size, size), dtype=torch.float16)
    for i, m in enumerate(masks):
        t = torch.from_numpy(m.astype(np.float32))[None]
        out[i] = F.interpolate(t, size=(size, size), mode="area")[0].to(torch.float16)
    return out


def outline_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy per pixel plus 1 - soft Dice over the (film, channel) pairs with a mask."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    drawn = target.sum(dim=(2, 3)) > 0
    if not drawn.any():
        return bce
    p = torch.sigmoid(logits)
    inter = (p * target).sum(dim=(2, 3))
    dice = (2 * inter + 1) / (p.sum(dim=(2, 3)) + target.sum(dim=(2, 3)) + 1)
    return bce + (1 - dice[drawn]).mean()


def warp_masks(masks: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Masks moved with the same ``affine_grid`` matrices as their images (zeros come in at the edges)."""
    grid = F.affine_grid(theta, list(masks.shape), align_corners=False)
    return F.grid_sample(masks, grid, align_corners=False, padding_mode="zeros")


def fit_outlines(
    images: torch.Tensor,
    masks: torch.Tensor,
    steps: int = 1500,
    batch: int = 16,
    lr: float = 2e-3,
    seed: int = 0,
    width: int = 12,
    channels: tuple[str, ...] = CHANNELS,
    progress: bool = True,
) -> tuple[OutlineNet, list[float]]:
    """An OutlineNet fitted to ``images`` (N, 1, S, S) and ``masks`` (N, channels, S, S); returns it (eval
    mode) and the loss of every step."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net = OutlineNet(width=width, size=images.shape[-1], channels=channels)
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.1)
    losses: list[float] = []
    net.train()
    for _ in tqdm(range(steps), desc="outliner", disable=not progress, leave=False):
        idx = torch.randint(0, images.shape[0], (batch,), generator=generator)
        x, theta = augment(images[idx].float(), generator, bias_field=0.3)
        y = warp_masks(masks[idx].float(), theta)
        loss = outline_loss(net(x.clamp(0, 1)), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
    return net.eval(), losses


__all__ = ["fit_outlines", "mask_tensor", "masked_films", "outline_loss", "warp_masks"]
