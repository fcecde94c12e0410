"""A tiny, untrained model bundle (built once per session, saved and loaded back like a trained one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CORPUS = [
    "Heart size is normal. The lungs are clear. No pleural effusion or pneumothorax.",
    "Small left pleural effusion. Moderate cardiomegaly. Right lower lobe consolidation.",
    "No acute cardiopulmonary abnormality.",
]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medvlm.model import build_model
    from medvlm.ontology import load_ontology

    bundle = build_model("tiny", load_ontology(), tokenizer_corpus=CORPUS, seed=0)
    bundle.config.max_new_tokens = 8  # untrained text is noise; keep generation short for speed
    return bundle.save(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_bundle(tiny_model_dir: Path) -> Any:
    from medvlm.model import load_bundle

    return load_bundle(tiny_model_dir)
