"""Familiarity (``medvlm.model.novelty``): a film with what the training films never had is stranger than
all of them; typical films are not; the fit survives saving; too few films fit nothing."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from medvlm.findings import Finding, Laterality
from medvlm.model.novelty import MIN_FILMS, FilmNovelty, fit_novelty
from tests.medvlm.training.synthdata import _draw, _sample_findings


def _films(n: int, seed: int, nodule: bool) -> torch.Tensor:
    """Drawn chest-like films (64 px); with ``nodule`` each has a nodule, else none has one."""
    rng, pick = np.random.default_rng(seed), random.Random(seed)
    films = []
    for _ in range(n):
        findings = [f for f in _sample_findings(pick) if f.label != "nodule"]
        if nodule:
            findings.append(Finding("nodule", laterality=pick.choice([Laterality.LEFT, Laterality.RIGHT])))
        films.append(torch.from_numpy(_draw(findings, rng)).float()[None])
    return torch.stack(films)


def test_a_film_with_what_training_never_had_is_stranger_than_every_training_film(tmp_path: Path) -> None:
    fitted = fit_novelty(_films(120, seed=0, nodule=False), seed=0)
    assert fitted is not None and fitted.calibration.numel() == 24
    strange = fitted.familiarity(_films(20, seed=1, nodule=True))
    typical = fitted.familiarity(_films(20, seed=2, nodule=False))
    floor = 1 / 25  # stranger than all 24 calibration films
    assert all(v == floor for v in strange), strange
    assert sum(v > floor for v in typical) >= 18, typical  # new films like the training ones mostly are not
    assert all(0 < v <= 1 for v in typical)

    fitted.save(tmp_path)
    loaded = FilmNovelty.load(tmp_path)
    assert loaded is not None and loaded.familiarity(_films(5, seed=3, nodule=False)) == fitted.familiarity(
        _films(5, seed=3, nodule=False))


def test_too_few_films_fit_nothing_and_an_old_model_has_no_fit(tmp_path: Path) -> None:
    films = _films(MIN_FILMS, seed=0, nodule=False)
    assert fit_novelty(films[: MIN_FILMS - 1]) is None
    assert fit_novelty(films, rows=list(range(MIN_FILMS - 1))) is None
    assert fit_novelty(films, rows=list(range(MIN_FILMS))) is not None
    assert FilmNovelty.load(tmp_path) is None
