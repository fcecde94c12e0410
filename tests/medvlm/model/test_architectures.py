"""Per-architecture parts and LoRA names (``medvlm.model.architectures``), and what a bad checkpoint gets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from medvlm.errors import ConfigError
from medvlm.model import build_model
from medvlm.model.architectures import lora_target_regex, part_modules
from medvlm.model.tiny_checkpoints import build_checkpoint, save_checkpoint
from medvlm.ontology import load_ontology

LANGUAGE = {
    "llava": "model.language_model",
    "gemma3": "model.language_model",
    "qwen2_vl": "model.language_model",
    "idefics3": "model.text_model",
}


@pytest.mark.parametrize(("arch", "prefix"), LANGUAGE.items())
def test_lora_targets_land_on_the_language_model_only(arch: str, prefix: str) -> None:
    model, _ = build_checkpoint(arch)
    pattern = lora_target_regex(model, ["q_proj", "v_proj", "down_proj"])
    hits = [n for n, _ in model.named_modules() if re.fullmatch(pattern, n)]
    assert hits and all(n.startswith(prefix + ".") for n in hits)
    assert {n.rsplit(".", 1)[-1] for n in hits} == {"q_proj", "v_proj", "down_proj"}
    for part in ("vision", "projector", "language"):
        assert part_modules(model, part)


def test_unknown_lora_target_names_the_layers_there_are() -> None:
    model, _ = build_checkpoint("gemma3")
    with pytest.raises(ConfigError, match=r"LoRA target 'qkv' matches no Linear layer.*\['down_proj'"):
        lora_target_regex(model, ["qkv"])


def test_alias_maps_a_curriculum_name_onto_another_naming() -> None:
    from torch import nn

    model, _ = build_checkpoint("llava")
    attention = model.model.language_model.layers[0].self_attn
    attention.query = attention.q_proj  # a language model that names it "query"
    del attention.q_proj
    pattern = lora_target_regex(model, ["q_proj"])
    assert pattern.endswith("(query)")
    assert isinstance(model.get_submodule("model.language_model.layers.0.self_attn.query"), nn.Linear)


def test_unsupported_architecture_and_missing_processor(tmp_path: Path) -> None:
    qwen = save_checkpoint("qwen2_vl", tmp_path / "qwen")
    (qwen / "processor_config.json").unlink()
    with pytest.raises(ConfigError, match=r"has no processor.*qwen2_vl checkpoint needs its own processor"):
        build_model(f"path:{qwen}", load_ontology())
    from transformers import AutoConfig, AutoModelForImageTextToText

    other = tmp_path / "paligemma"
    config = AutoConfig.for_model(
        "paligemma",
        text_config={
            "model_type": "gemma",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 16,
            "vocab_size": 300,
        },
        vision_config={
            "model_type": "siglip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=32,
    )
    AutoModelForImageTextToText.from_config(config).save_pretrained(other)
    assert json.loads((other / "config.json").read_text())["model_type"] == "paligemma"
    with pytest.raises(ConfigError, match=r"architecture 'paligemma' is not supported.*supported: gemma3"):
        build_model(f"path:{other}", load_ontology())
