"""The tiny-config model fixture: a ``micro`` bundle built from config in a second, no download."""

from __future__ import annotations

import pytest

CORPUS = [
    "Heart size is normal. The lungs are clear. No pleural effusion or pneumothorax.",
    "Small left pleural effusion. Moderate cardiomegaly. Right upper lobe nodule.",
    "No acute cardiopulmonary abnormality.",
] * 5


@pytest.fixture(scope="module")
def micro_bundle():
    from medvlm.model import build_model
    from medvlm.ontology import load_ontology

    return build_model("micro", load_ontology(), tokenizer_corpus=CORPUS, seed=0).eval()
