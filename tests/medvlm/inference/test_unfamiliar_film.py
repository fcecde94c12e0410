"""The unfamiliar-film flag with a real (tiny) model and a real familiarity fit: a draft on a film unlike the
training films carries it first, a draft on a film like them does not, a model without a fit never flags,
and the cut is the documented one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from medvlm.inference.draft import draft_batch
from medvlm.inference.uncertainty import (
    UNFAMILIAR_BELOW,
    UNFAMILIAR_FILM,
    flag_can_fire,
    unfamiliar_film_flag,
)
from medvlm.model import load_bundle
from tests.support.familiarity import fit_on_chest_films, jittered


@pytest.fixture(scope="module")
def fitted(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, torch.Tensor]:
    model_dir = tmp_path_factory.mktemp("fitted") / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    base = fit_on_chest_films(model_dir)
    return load_bundle(model_dir), base


def test_a_strange_film_is_flagged_first_and_a_typical_one_is_not(fitted: tuple[Any, torch.Tensor]) -> None:
    bundle, base = fitted
    typical = jittered(base[:1], 1, seed=99)[0]  # a new exposure of a training film
    inverted = 1 - base[0]  # the same film with its grey scale reversed (a MONOCHROME1 mix-up)
    noise = torch.rand(1, bundle.image_size, bundle.image_size, generator=torch.Generator().manual_seed(5))
    drafts = draft_batch(bundle, [typical, inverted, noise])
    assert drafts[0].familiarity is not None and drafts[0].familiarity >= UNFAMILIAR_BELOW
    assert all(f.kind != UNFAMILIAR_FILM for f in drafts[0].consistency_flags)
    for strange in drafts[1:]:
        assert strange.familiarity is not None and strange.familiarity < UNFAMILIAR_BELOW
        first = strange.consistency_flags[0]
        assert first.kind == UNFAMILIAR_FILM and "unlike the films the model was trained on" in first.message
        assert strange.to_dict()["consistency_flags"][0]["kind"] == UNFAMILIAR_FILM
    # the flag warns, it does not withhold: the findings are drafted all the same
    assert len(drafts[1].findings) == len(bundle.names)


def test_the_features_see_what_the_pixels_miss(fitted: tuple[Any, torch.Tensor]) -> None:
    """Familiarity is the smaller of the two fits' p-values."""
    bundle, base = fitted
    films = torch.stack([jittered(base[:1], 1, seed=98)[0], 1 - base[0]])
    pixels = bundle.novelty.familiarity(films)
    from medvlm.model.embedding_novelty import film_embeddings

    features = bundle.embedding_novelty.familiarity(film_embeddings(bundle, films))
    assert bundle.familiarity(films) == [min(a, b) for a, b in zip(pixels, features, strict=True)]
    findings, familiarity = bundle.read_films(films)  # drafting's single pass of the tower: the same
    assert familiarity == bundle.familiarity(films) and findings == bundle.predict_findings(films)


def test_a_model_without_a_fit_never_flags(tiny_bundle: Any) -> None:
    assert tiny_bundle.novelty is None and tiny_bundle.embedding_novelty is None
    draft = draft_batch(tiny_bundle, [torch.rand(1, tiny_bundle.image_size, tiny_bundle.image_size)])[0]
    assert draft.familiarity is None and all(f.kind != UNFAMILIAR_FILM for f in draft.consistency_flags)


@pytest.mark.parametrize(("familiarity", "flagged"), [(None, False), (1.0, False), (UNFAMILIAR_BELOW, False),
                                                      (0.0099, True), (0.0013, True)])
def test_the_cut(familiarity: float | None, flagged: bool) -> None:
    assert (unfamiliar_film_flag(familiarity) is not None) is flagged


def test_a_small_calibration_set_can_never_flag() -> None:
    assert not flag_can_fire(24) and not flag_can_fire(99) and flag_can_fire(100) and flag_can_fire(769)
