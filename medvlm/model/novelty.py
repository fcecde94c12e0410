"""How unlike the model's training films a film is: its familiarity, for the worklist's uncertainty order.

A model cannot be unsure about what it never learned: a finding, a CT patient or a device type absent from
its training data is missed with confident probabilities far from the threshold, so the decision margin
alone never puts those studies first. This adds the other half of uncertainty, the film's distance from the
training films (PaDiM, Defard et al. 2020, on the model's input rather than a network's features, so that
it is the same for every architecture and cannot learn to ignore what the findings head ignores): a
Gaussian per position of small patches of the film at 64 px, the film's score the largest Mahalanobis
distance over positions. Familiarity is the share of held-aside training films that score at least as
high (an empirical p-value: 1.0 typical, 1 / (n + 1) stranger than every one of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

NOVELTY_FILE = "novelty.safetensors"
SIDE, PATCH = 64, 4  # 16 x 16 positions of 4 x 4 pixels (a 16 px square of a 256 px film)
MIN_FILMS = 20  # fewer films give no usable covariance: no familiarity is fitted
CALIBRATION_SHARE = 0.2  # films held aside from the Gaussians to calibrate scores on unseen films
SHRINKAGE = 0.05  # ridge on each covariance, as a share of its mean variance


def _patches(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, S, S) model inputs -> (N, positions, PATCH * PATCH) patch vectors at SIDE px."""
    small = F.interpolate(images.detach().cpu().float(), size=(SIDE, SIDE), mode="area")
    return F.unfold(small, PATCH, stride=PATCH).transpose(1, 2)


def empirical_familiarity(calibration: torch.Tensor, scores: torch.Tensor) -> list[float]:
    """Per score: the share of the (sorted) calibration scores at least as high, as (k + 1) / (n + 1)."""
    n = calibration.numel()
    stranger_or_equal = n - torch.searchsorted(calibration, scores, right=False)
    return [round((int(k) + 1) / (n + 1), 6) for k in stranger_or_equal]


def shrunk_precision(centred: torch.Tensor) -> torch.Tensor:
    """Inverse covariance of centred rows (..., n, d) -> (..., d, d), with a ridge of SHRINKAGE x the mean
    variance: fewer films than dimensions still give a usable (if conservative) distance."""
    cov = torch.einsum("...nd,...ne->...de", centred, centred) / max(1, centred.shape[-2] - 1)
    ridge = SHRINKAGE * cov.diagonal(dim1=-2, dim2=-1).mean(dim=-1).clamp_min(1e-6)
    return torch.linalg.inv(cov + ridge[..., None, None] * torch.eye(cov.shape[-1]))


@dataclass
class CalibratedGaussian:
    """A Gaussian fit (mean, inverse covariance) whose distances are calibrated on held-aside training
    films, saved in the model folder as ``FILE``; subclasses say what they score (``scores``)."""

    mean: torch.Tensor
    precision: torch.Tensor  # inverse shrunk covariance
    calibration: torch.Tensor  # (n,) sorted scores of the held-aside training films
    FILE: ClassVar[str] = ""

    def scores(self, inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def familiarity(self, inputs: torch.Tensor) -> list[float]:
        """Per film: the share of calibration films at least as strange, in (0, 1]."""
        return empirical_familiarity(self.calibration, self.scores(inputs))

    def save(self, model_dir: Path) -> None:
        save_file({"mean": self.mean.contiguous(), "precision": self.precision.contiguous(),
                   "calibration": self.calibration.contiguous()}, Path(model_dir) / self.FILE)

    @classmethod
    def load(cls, model_dir: Path) -> Self | None:
        """None for a model saved without this fit (familiarity then does without it)."""
        path = Path(model_dir) / cls.FILE
        if not path.is_file():
            return None
        state = load_file(path)
        return cls(state["mean"], state["precision"], state["calibration"])


@dataclass
class FilmNovelty(CalibratedGaussian):
    """Per position of the 64 px input: mean (positions, dims), precision (positions, dims, dims)."""

    FILE: ClassVar[str] = NOVELTY_FILE

    @torch.no_grad()
    def scores(self, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """The largest per-position Mahalanobis distance (squared) of each film."""
        out = []
        for start in range(0, images.shape[0], batch):
            centred = _patches(images[start : start + batch]) - self.mean
            d2 = torch.einsum("npd,pde,npe->np", centred, self.precision, centred)
            out.append(d2.amax(dim=1))
        return torch.cat(out) if out else torch.zeros(0)

    def describe(self) -> dict[str, int]:
        return {"positions": int(self.mean.shape[0]), "patch_dims": int(self.mean.shape[1]),
                "calibration_films": int(self.calibration.numel())}


@torch.no_grad()
def fit_novelty(images: torch.Tensor, rows: Sequence[int] | None = None, seed: int = 0) -> FilmNovelty | None:
    """Fit on training films: ``images`` (N, 1, S, S), or its ``rows`` (no copy of a large cache); None
    when there are fewer than MIN_FILMS."""
    chosen = torch.as_tensor(list(rows) if rows is not None else range(images.shape[0]), dtype=torch.long)
    n = chosen.numel()
    if n < MIN_FILMS:
        return None
    chosen = chosen[torch.randperm(n, generator=torch.Generator().manual_seed(seed))]
    held = max(5, int(n * CALIBRATION_SHARE))
    fit, calibrate = chosen[held:], chosen[:held]
    patches = torch.cat([_patches(images[fit[i : i + 256]]) for i in range(0, len(fit), 256)])
    mean = patches.mean(dim=0)
    model = FilmNovelty(mean, shrunk_precision((patches - mean).transpose(0, 1)), torch.zeros(0))
    model.calibration = torch.sort(model.scores(images[calibrate])).values
    return model
