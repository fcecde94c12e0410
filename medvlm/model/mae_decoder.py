"""Masked-image modelling pieces: patch masks, the pixel decoder and the reconstruction loss.

SimMIM-style (Xie et al. 2022) rather than MAE's encoder-drops-tokens form: the masked patches are filled
in *pixel space* and the whole film goes through the tower, which works for the tiny preset's conv tower
as for any ViT (a conv net cannot drop tokens). The decoder is one linear map per vision token to the
pixels of its square, which keeps the representation work in the encoder; it is used during the
self-supervised stage only and never saved with the model.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from medvlm.errors import ModelInputError


def token_grid(tokens: int, image_size: int) -> tuple[int, int]:
    """(grid side, patch side in pixels) of a square token grid over a square image."""
    side = math.isqrt(tokens)
    if side * side != tokens or image_size % side:
        raise ModelInputError(
            f"masked-image training needs a square grid of vision tokens that divides the {image_size}-px "
            f"image, got {tokens} tokens"
        )
    return side, image_size // side


def random_masks(batch: int, grid: int, ratio: float, generator: torch.Generator) -> torch.Tensor:
    """(B, grid, grid) bool: exactly round(ratio * grid**2) patches hidden per film (at least one)."""
    cells = grid * grid
    hidden = min(max(round(ratio * cells), 1), cells - 1) if cells > 1 else 1
    order = torch.rand(batch, cells, generator=generator).argsort(dim=1)
    mask = torch.zeros(batch, cells, dtype=torch.bool)
    mask.scatter_(1, order[:, :hidden], True)
    return mask.view(batch, grid, grid)


def pixel_mask(mask: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, g, g) patch mask -> (B, 1, g*patch, g*patch) float pixel mask."""
    return mask.float().repeat_interleave(patch, 1).repeat_interleave(patch, 2).unsqueeze(1)


def mask_images(images: torch.Tensor, mask: torch.Tensor, patch: int) -> torch.Tensor:
    """Hidden patches filled with each film's mean: a flat grey carries no content and no black border
    (black is the padding the preprocessing adds, which the tower must not learn to read as 'hidden')."""
    m = pixel_mask(mask, patch).to(images.device, images.dtype)
    fill = images.mean(dim=(1, 2, 3), keepdim=True)
    return images * (1 - m) + fill * m


class MaskedImageDecoder(nn.Module):
    """Vision tokens (B, N, D) -> reconstructed film (B, 1, S, S): each token predicts its patch's pixels."""

    def __init__(self, feature_dim: int, patch: int) -> None:
        super().__init__()
        self.patch = patch
        self.norm = nn.LayerNorm(feature_dim)
        self.out = nn.Linear(feature_dim, patch * patch)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        b, n, _ = tokens.shape
        grid = math.isqrt(n)
        pixels = self.out(self.norm(tokens.float()))  # (B, N, p*p)
        pixels = pixels.view(b, grid, grid, self.patch, self.patch).permute(0, 1, 3, 2, 4)
        return pixels.reshape(b, 1, grid * self.patch, grid * self.patch)


def masked_loss(
    prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, patch: int
) -> torch.Tensor:
    """Mean squared error over the hidden patches only, each patch's target standardised (MAE's
    normalised-pixel target): the tower must learn the patch's structure, not its overall brightness."""
    b, _, s, _ = target.shape
    g = s // patch

    def patches(x: torch.Tensor) -> torch.Tensor:  # (B, g*g, p*p)
        return x.float().view(b, g, patch, g, patch).permute(0, 1, 3, 2, 4).reshape(b, g * g, patch * patch)

    t = patches(target)
    t = (t - t.mean(dim=-1, keepdim=True)) / (t.var(dim=-1, keepdim=True) + 1e-4).sqrt()
    per_patch = F.mse_loss(patches(prediction), t, reduction="none").mean(dim=-1)
    hidden = mask.reshape(b, g * g).to(per_patch.device, per_patch.dtype)
    return (per_patch * hidden).sum() / hidden.sum().clamp(min=1.0)
