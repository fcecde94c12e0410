"""How unlike the model's training films a film looks to the model itself: familiarity in its own features.

``medvlm.model.novelty`` scores a film on its input pixels, which every architecture shares; it misses most
of the shift to real films (on the reference model, real chest films against in-patient synthetic test
films: AUROC 0.82, and 3 % of real films stranger than 99 % of the training films). The vision tower's
features see it (AUROC 0.99, 75 %; docs/performance.md): a film's embedding is the mean and spread of the
tower's tokens and the mean of its detail map, scored by its Mahalanobis distance to a Gaussian fitted on
training films (Lee et al. 2018), calibrated as an empirical p-value on held-aside training films.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from medvlm.model.novelty import CALIBRATION_SHARE, MIN_FILMS, CalibratedGaussian, shrunk_precision

EMBEDDING_NOVELTY_FILE = "embedding_novelty.safetensors"
BATCH = 32


@torch.no_grad()
def film_embeddings(bundle: Any, images: torch.Tensor, rows: Sequence[int] | None = None) -> torch.Tensor:
    """(N, D) float32: per film, the tower's tokens' mean and standard deviation over positions, and the
    detail map's mean over positions where the tower has one. ``rows`` picks films of a large cache."""
    chosen = list(rows) if rows is not None else list(range(images.shape[0]))
    out = []
    for start in range(0, len(chosen), BATCH):
        batch = images[chosen[start : start + BATCH]].float()
        out.append(embed_features(*bundle.vision_features(bundle.pixel_values(batch))))
    if not out:
        raise ValueError("film_embeddings needs at least one film")
    return torch.cat(out)


def embed_features(tokens: torch.Tensor, detail: torch.Tensor | None) -> torch.Tensor:
    """The tower's tokens (B, N, D) and detail map (B, C, H, W) -> (B, D') embeddings (see above)."""
    tokens = tokens.detach().float()
    parts = [tokens.mean(dim=1), tokens.std(dim=1)]
    if detail is not None:
        parts.append(detail.detach().float().mean(dim=(2, 3)))
    return torch.cat(parts, dim=1).cpu()


@dataclass
class EmbeddingNovelty(CalibratedGaussian):
    """One Gaussian over film embeddings: mean (D,), precision (D, D)."""

    FILE: ClassVar[str] = EMBEDDING_NOVELTY_FILE

    def scores(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Squared Mahalanobis distance of each embedding to the training films' Gaussian."""
        if embeddings.shape[-1] != self.mean.numel():
            raise ValueError(f"embeddings of {embeddings.shape[-1]} dimensions; the fit has "
                             f"{self.mean.numel()}")
        centred = embeddings.float() - self.mean
        return torch.einsum("nd,de,ne->n", centred, self.precision, centred)

    def describe(self) -> dict[str, int]:
        return {"embedding_dims": int(self.mean.numel()), "calibration_films": int(self.calibration.numel())}


def fit_embedding_novelty(embeddings: torch.Tensor, seed: int = 0) -> EmbeddingNovelty | None:
    """Fit on training films' embeddings (N, D); None when there are fewer than MIN_FILMS."""
    n = embeddings.shape[0]
    if n < MIN_FILMS:
        return None
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    held = max(5, int(n * CALIBRATION_SHARE))
    fit, calibrate = embeddings[order[held:]].float(), embeddings[order[:held]].float()
    mean = fit.mean(dim=0)
    model = EmbeddingNovelty(mean, shrunk_precision(fit - mean), torch.zeros(0))
    model.calibration = torch.sort(model.scores(calibrate)).values
    return model
