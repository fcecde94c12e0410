"""The outliner: a small U-Net that draws, on a frontal film, the lungs, the heart and each finding's extent.

A radiologist calls cardiomegaly by measuring (heart width over thoracic width) and an effusion by where the
fluid is, not by recognising a body; with three training CT patients the findings head learnt to recognise
bodies (its features name the CT patient of 98.6 % of films) and read an unseen patient near chance. An
outline is taught by every pixel of every film (the renderer knows exactly where it drew each organ and
finding), so it has far more to learn from than one label per film. From the outlines: the cardiothoracic
ratio with the renderer's own definition (``medvlm.synth.anatomy.measure_ctr``), and per finding a score
(the mean probability of its most certain pixels).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch import nn
from torch.nn import functional as F

from medvlm.dataset.masks import CHANNELS, ORGANS  # output channels, in the order the masks are stored
from medvlm.synth.anatomy import measure_ctr

TOP_SHARE = 0.005  # a finding's score: the mean probability of its top 0.5 % pixels (~80 at 128 px)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class OutlineNet(nn.Module):
    """(B, 1, S, S) model input in 0..1 -> (B, len(channels), S, S) logits; S divisible by 2**depth."""

    def __init__(self, width: int = 12, depth: int = 4, size: int = 128,
                 channels: tuple[str, ...] = CHANNELS) -> None:
        super().__init__()
        self.size, self.depth, self.channels = size, depth, channels
        widths = [width * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([_block(1, widths[0])] + [_block(widths[i], widths[i + 1])
                                                          for i in range(depth)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                 for i in reversed(range(depth))])
        self.merge = nn.ModuleList([_block(2 * widths[i], widths[i]) for i in reversed(range(depth))])
        self.out = nn.Conv2d(widths[0], len(channels), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(self.up, self.merge, strict=True):
            x = merge(torch.cat([up(x), skips.pop()], dim=1))
        return self.out(x)

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """(B, channels, size, size) probabilities of images of any square size (resized to ``size``)."""
        x = F.interpolate(images.float(), size=(self.size, self.size), mode="area")
        return torch.sigmoid(self(x))


def finding_scores(probabilities: torch.Tensor, channels: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Per outlined finding (not the organs), the mean of its top ``TOP_SHARE`` pixel probabilities."""
    flat = probabilities.flatten(2)
    k = max(1, int(TOP_SHARE * flat.shape[-1]))
    top = flat.topk(k, dim=-1).values.mean(-1).numpy()
    return {name: top[:, i] for i, name in enumerate(channels) if name not in ORGANS}


def largest_part(mask: np.ndarray, keep: int = 1) -> np.ndarray:
    """The ``keep`` largest connected parts of a bool mask (stray specks would widen a measured row)."""
    labels, n = ndimage.label(mask)
    if n <= keep:
        return mask
    sizes = ndimage.sum(mask, labels, index=range(1, n + 1))
    kept = np.argsort(sizes)[::-1][:keep] + 1
    return np.isin(labels, kept)


def measured_ctr(masks: np.ndarray, channels: tuple[str, ...] = CHANNELS) -> float | None:
    """The cardiothoracic ratio on one film's outlines ((channels, H, W) bool); None when the lungs or the
    heart are missing (nothing to measure)."""
    lungs = largest_part(masks[channels.index("lungs")], keep=2)
    heart = largest_part(masks[channels.index("heart")])
    if not lungs.any() or not heart.any():
        return None
    return measure_ctr(heart, lungs)


__all__ = ["TOP_SHARE", "OutlineNet", "finding_scores", "largest_part", "measured_ctr"]
