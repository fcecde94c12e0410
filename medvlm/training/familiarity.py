"""The model's familiar films: familiarity fitted on the films its stages trained on, at the end of training
or afterwards (``medvlm models fit-familiarity``) for a model saved before the feature-space fit existed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from medvlm.errors import ConfigError
from medvlm.model.bundle import ModelBundle
from medvlm.model.embedding_novelty import EMBEDDING_NOVELTY_FILE, film_embeddings, fit_embedding_novelty
from medvlm.model.novelty import MIN_FILMS, NOVELTY_FILE, fit_novelty


def film_paths(records: dict[str, list], inputs: Sequence[str]) -> list[str]:
    """Every record's frontal (and lateral, when a stage reads laterals), sorted: the training image cache's
    rows, in order."""
    films = [r.files[0] for recs in records.values() for r in recs]
    if "lateral" in inputs:
        films += [r.lateral for recs in records.values() for r in recs if r.lateral is not None]
    return sorted({str(f) for f in films})


def trained_rows(cur: Any, records: dict[str, list], rows: dict[str, int]) -> list[int]:
    """Cache rows of the frontals of every stage source's records (a retraining's replay and corrections
    alike): the films the model learnt from."""
    sources = {s for stage in cur.stages for s in getattr(stage, "sources", [])}
    films = {str(r.files[0]) for s in sources for r in records.get(s, [])}
    return sorted(rows[f] for f in films if f in rows)


def fit_familiarity(bundle: ModelBundle, images: torch.Tensor, trained: Sequence[int], seed: int) -> None:
    """Fit both familiarity models on ``images[trained]``. With too few films the input-pixel fit of a base
    model is kept, but never its feature-space fit: a retrained tower has other features."""
    fitted = fit_novelty(images, trained, seed=seed)
    embedded = fit_embedding_novelty(film_embeddings(bundle, images, trained), seed=seed) if trained else None
    bundle.embedding_novelty = embedded
    if fitted is not None:
        bundle.novelty = fitted
        bundle.card["familiarity"] = {**fitted.describe(), "films": len(trained),
                                      **(embedded.describe() if embedded is not None else {})}


def refit_familiarity(model_dir: Path, data_dir: Path, curriculum: Path | None = None,
                      progress: bool = True) -> dict[str, Any]:
    """Fit a saved model's familiarity again on the films it trained on: the curriculum its card names (or
    ``curriculum``) over ``data_dir``, which must be the data it trained on (the card's manifest hash).
    Writes only the familiarity files: the model's weights, version and card stay as they are."""
    from medvlm.curriculum import load_curriculum, plan_curriculum
    from medvlm.curriculum.validate import data_hash
    from medvlm.model import load_bundle
    from medvlm.training.images import cache_images

    bundle = load_bundle(model_dir)
    card = bundle.card
    named = curriculum or (Path(card["curriculum"]) if card.get("curriculum") else None)
    if named is None:
        raise ConfigError(f"{model_dir}: its model card names no curriculum; give --curriculum")
    loaded = load_curriculum(named)
    recorded = card.get("data_manifest_sha256")
    if recorded and data_hash(loaded, data_dir) != recorded:
        raise ConfigError(f"{data_dir} is not the data {model_dir} trained on (its manifest hash differs "
                          "from the model card's): familiarity must describe the model's own training films")
    plan = plan_curriculum(loaded, data_dir, bundle.context_length, bundle.config.num_image_tokens)
    films = film_paths(plan.records, loaded.curriculum.inputs)  # the training run's cache, when it is there
    images = cache_images([Path(p) for p in films], bundle.image_size, Path(model_dir) / "training" / "cache",
                          progress)
    trained = trained_rows(loaded.curriculum, plan.records, {p: i for i, p in enumerate(films)})
    fit_familiarity(bundle, images, trained, loaded.curriculum.seed)
    if bundle.novelty is None or bundle.embedding_novelty is None:  # nothing written
        raise ConfigError(f"{model_dir}: {len(trained)} training films in {data_dir}, fewer than "
                          f"{MIN_FILMS}; no familiarity fitted")
    bundle.novelty.save(model_dir)
    bundle.embedding_novelty.save(model_dir)
    return {"films": len(trained), "files": [NOVELTY_FILE, EMBEDDING_NOVELTY_FILE],
            **bundle.embedding_novelty.describe()}
