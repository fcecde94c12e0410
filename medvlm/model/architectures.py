"""Where each supported architecture keeps its parts, and how its vision features come out.

One table says, per ``config.model_type``, which submodules of ``model.model`` are the vision encoder, the
projector and the language model; LoRA's ``target_modules`` (the curriculum names Llama's projections) are
mapped onto the language model's own Linear layer names; ``image_tokens`` gives the projected image
features (what the language model sees) as ``(B, T, D)`` for the findings head, whatever the model returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from medvlm.errors import ConfigError, ModelInputError


@dataclass(frozen=True)
class Family:
    name: str
    vision: tuple[str, ...]
    projector: tuple[str, ...]
    language: tuple[str, ...]
    # processor settings we always pass: one tile per film, so every film gives the same vision tokens
    image_kwargs: tuple[tuple[str, Any], ...] = ()


_ONE_TILE = (("do_image_splitting", False),)
_LLAVA = Family("llava", ("vision_tower",), ("multi_modal_projector",), ("language_model",))
FAMILIES: dict[str, Family] = {
    "llava": _LLAVA,
    "llava_next": Family(
        "llava_next", ("vision_tower",), ("multi_modal_projector", "image_newline"), ("language_model",)
    ),
    "gemma3": Family("gemma3", ("vision_tower",), ("multi_modal_projector",), ("language_model",)),
    "qwen2_vl": Family("qwen2_vl", ("visual",), ("visual.merger",), ("language_model",)),
    "qwen2_5_vl": Family("qwen2_5_vl", ("visual",), ("visual.merger",), ("language_model",)),
    "idefics3": Family("idefics3", ("vision_model",), ("connector",), ("text_model",), _ONE_TILE),
    "smolvlm": Family("smolvlm", ("vision_model",), ("connector",), ("text_model",), _ONE_TILE),
}

# Other names the same projection has in language models a checkpoint may carry.
ALIASES: dict[str, tuple[str, ...]] = {
    "q_proj": ("query", "q"),
    "k_proj": ("key", "k"),
    "v_proj": ("value", "v"),
    "o_proj": ("out_proj", "dense", "o"),
    "gate_proj": ("w1", "gate_up_proj"),
    "up_proj": ("w3", "gate_up_proj"),
    "down_proj": ("w2", "fc2"),
}

# Keys of a processor's output that carry images (what ``get_image_features`` takes).
IMAGE_KEYS = ("pixel_values", "image_sizes", "image_grid_thw", "pixel_attention_mask")


def base_model(model: Any) -> Any:
    """The transformers model under a peft wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def family_of(model_or_config: Any) -> Family:
    config = getattr(model_or_config, "config", model_or_config)
    model_type = str(getattr(config, "model_type", ""))
    family = FAMILIES.get(model_type)
    if family is None and not _native(model_type):
        family = _by_structure(model_or_config)
    if family is None:
        raise ConfigError(
            f"architecture {model_type!r} is not supported for path: checkpoints; supported: "
            f"{', '.join(sorted(FAMILIES))}"
        )
    return family


def _native(model_type: str) -> bool:
    """A model type transformers ships (those outside FAMILIES are refused, never guessed at)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return model_type in CONFIG_MAPPING_NAMES


def _by_structure(model: Any) -> Family | None:
    """A reviewed remote-code model (MAIRA-2 is a LLaVA) is handled as the family whose parts it has."""
    inner = getattr(model, "model", None)
    if inner is None or not hasattr(model, "get_image_features"):
        return None
    for family in FAMILIES.values():
        if all(_get(inner, d) is not None for d in (*family.vision, *family.projector, *family.language)):
            return family
    return None


def _get(root: Any, dotted: str) -> Any:
    node = root
    for part in dotted.split("."):
        node = getattr(node, part, None)
        if node is None:
            return None
    return node


def part_modules(model: Any, part: str) -> list[Any]:
    """Modules (or parameters) of ``part`` (vision / projector / language); lm_head goes with language."""
    base = base_model(model)
    family = family_of(base)
    found = []
    for dotted in getattr(family, part):
        item = _get(base.model, dotted)
        if item is None:
            raise ConfigError(f"{family.name} model has no {dotted} (expected for its {part} part)")
        found.append(item)
    if part == "language" and getattr(base, "lm_head", None) is not None:
        found.append(base.lm_head)
    return found


def language_prefix(model: Any) -> str:
    """Qualified module name of the language model inside ``model`` (for LoRA's target regex)."""
    base = base_model(model)
    target = _get(base.model, family_of(base).language[0])
    for name, module in base.named_modules():
        if module is target:
            return name
    raise ConfigError("language model not found among the model's modules")


def lora_target_regex(model: Any, targets: Sequence[str]) -> str:
    """A peft ``target_modules`` regex for the curriculum's projection names on this language model."""
    base = base_model(model)
    prefix = language_prefix(base)
    lm = _get(base.model, family_of(base).language[0])
    linear = {name.rsplit(".", 1)[-1] for name, m in lm.named_modules() if isinstance(m, nn.Linear)}
    chosen: list[str] = []
    for name in targets:
        matches = [n for n in (name, *ALIASES.get(name, ())) if n in linear]
        if not matches:
            raise ConfigError(
                f"LoRA target {name!r} matches no Linear layer of this {family_of(base).name} language "
                f"model; its Linear layers are named {sorted(linear)}"
            )
        chosen += [m for m in matches[:1] if m not in chosen]
    return rf"{prefix.replace('.', chr(92) + '.')}\..*\.({'|'.join(chosen)})"


def image_tokens(model: Any, image_inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Projected image features ``(B, T, D)`` from ``get_image_features`` (a list, tuple or tensor)."""
    out = model.get_image_features(**image_inputs, return_dict=True)
    features = out.pooler_output
    if isinstance(features, list | tuple):
        lengths = {int(f.shape[0]) for f in features}
        if len(lengths) != 1:
            raise ModelInputError(
                f"images gave different numbers of vision tokens {sorted(lengths)}; "
                "the findings head needs one fixed size"
            )
        features = torch.stack([f.reshape(f.shape[0], -1) for f in features])
    if features.ndim != 3:
        raise ModelInputError(f"expected image features (B, T, D), got {tuple(features.shape)}")
    return features
