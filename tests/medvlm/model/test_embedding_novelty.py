"""Familiarity in feature space (``medvlm.model.embedding_novelty``): a point far from the training
Gaussian is stranger than every calibration film, typical points are not; the fit survives saving; too few
films or embeddings of another width are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medvlm.model.embedding_novelty import EmbeddingNovelty, fit_embedding_novelty
from medvlm.model.novelty import MIN_FILMS


def _points(n: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.5, 2.0, 12)  # unequal spreads and a correlation, as features have
    x = torch.randn(n, 12, generator=g) * scale
    x[:, 1] += 0.8 * x[:, 0]
    return x + shift


def test_far_points_are_stranger_than_every_calibration_film(tmp_path: Path) -> None:
    fitted = fit_embedding_novelty(_points(500, seed=0), seed=0)
    assert fitted is not None and fitted.calibration.numel() == 100
    floor = round(1 / 101, 6)  # familiarity is rounded to 6 places
    assert all(v == floor for v in fitted.familiarity(_points(20, seed=1, shift=6.0)))
    typical = fitted.familiarity(_points(200, seed=2))
    assert sum(v < 0.05 for v in typical) <= 20  # about 5 % of new typical points, by construction

    fitted.save(tmp_path)
    loaded = EmbeddingNovelty.load(tmp_path)
    again = _points(5, seed=3)
    assert loaded is not None and loaded.familiarity(again) == fitted.familiarity(again)
    with pytest.raises(ValueError, match="embeddings of 11 dimensions; the fit has 12"):
        fitted.familiarity(torch.zeros(2, 11))


def test_too_few_films_fit_nothing_and_an_old_model_has_no_fit(tmp_path: Path) -> None:
    assert fit_embedding_novelty(_points(MIN_FILMS - 1, seed=0)) is None
    assert fit_embedding_novelty(_points(MIN_FILMS, seed=0)) is not None
    assert EmbeddingNovelty.load(tmp_path) is None
