"""Presets: ``tiny`` (CPU, a few million parameters), ``small`` (GPU), ``path:DIR`` (a local checkpoint),
and ``micro`` (tests only).

``tiny`` and ``small`` are ``LlavaForConditionalGeneration`` built from config (conv vision tower from
``vision.py`` + a small Llama), with a tokenizer trained on the report corpus. ``path:DIR`` loads any
LLaVA-style image-text-to-text checkpoint from disk (``local_files_only``: nothing is downloaded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForImageTextToText,
    AutoProcessor,
    AutoTokenizer,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
)
from transformers.utils import logging as hf_logging

from medvlm.errors import ConfigError, NotFoundError
from medvlm.model import vision
from medvlm.model.configuration import BundleConfig, FindingSlot
from medvlm.model.tokenizer import IMAGE, train_tokenizer

hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()


@dataclass(frozen=True)
class PresetSpec:
    image_size: int
    widths: list[int]
    vision_hidden: int
    text_hidden: int
    text_layers: int
    text_heads: int
    text_intermediate: int
    vocab_size: int
    max_positions: int
    head_hidden: int


PRESETS: dict[str, PresetSpec] = {
    "tiny": PresetSpec(256, [16, 32, 64, 128, 192], 192, 192, 3, 4, 512, 2048, 512, 256),
    # micro: 64 px, 16 image tokens; for tests and CI smoke runs only (seconds per stage on one core).
    "micro": PresetSpec(64, [8, 16, 32, 48], 64, 64, 2, 2, 128, 512, 256, 64),
    "small": PresetSpec(512, [48, 96, 192, 384, 512], 512, 512, 8, 8, 1536, 8192, 1024, 512),
}


DETAIL_STAGE = 3  # the tower's stride-8 stage feeds the findings head's detail scores
DETAIL_CONTEXT_STAGE = 4  # with the stride-16 stage's features upsampled beside it (nodules)


def build_from_config(
    preset: str, slots: list[FindingSlot], corpus: list[str]
) -> tuple[Any, Any, BundleConfig]:
    spec = PRESETS[preset]
    tokenizer = train_tokenizer(corpus, vocab_size=spec.vocab_size)
    vcfg = vision.CxrVisionConfig(
        image_size=spec.image_size,
        hidden_size=spec.vision_hidden,
        widths=spec.widths,
        num_channels=1,
        patch_size=2 ** len(spec.widths),
        detail_stage=DETAIL_STAGE,
        detail_context_stage=DETAIL_CONTEXT_STAGE,
    )
    tcfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.text_hidden,
        intermediate_size=spec.text_intermediate,
        num_hidden_layers=spec.text_layers,
        num_attention_heads=spec.text_heads,
        num_key_value_heads=spec.text_heads,
        max_position_embeddings=spec.max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    num_tokens = vcfg.grid * vcfg.grid
    config = LlavaConfig(
        vision_config=vcfg,
        text_config=tcfg,
        image_token_index=int(tokenizer.convert_tokens_to_ids(IMAGE)),  # type: ignore[arg-type]  # one token
        image_seq_length=num_tokens,
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        projector_hidden_act="gelu",
        tie_word_embeddings=True,
    )
    model = LlavaForConditionalGeneration(config)
    bundle_config = BundleConfig(
        preset=preset,
        image_size=spec.image_size,
        slots=slots,
        image_token=IMAGE,
        num_image_tokens=num_tokens,
        num_channels=1,
        pixel_mode="as_is",
        head_hidden=spec.head_hidden,
        head_tokens=num_tokens,
        head_local=True,
        head_detail=vcfg.detail_channels,
        vision_feature_dim=spec.vision_hidden,
    )
    return model, tokenizer, bundle_config


def _has_weights(directory: Path) -> bool:
    return any(directory.glob("*.safetensors")) or any(directory.glob("*.bin"))


def load_checkpoint(directory: Path, with_tokenizer: bool = True) -> tuple[Any, Any]:
    """Model + tokenizer of a local checkpoint; a directory without weights is a NotFoundError."""
    if not directory.is_dir():
        raise NotFoundError(f"model checkpoint directory {directory} does not exist")
    if not (directory / "config.json").is_file() or not _has_weights(directory):
        raise NotFoundError(f"no model weights in {directory}: expected config.json and *.safetensors")
    try:
        model = AutoModelForImageTextToText.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{directory} is not a loadable image-text-to-text checkpoint: {exc}") from exc
    if not with_tokenizer:
        return model, None
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise NotFoundError(f"no tokenizer in {directory}: {exc}") from exc
    return model, tokenizer


def build_from_path(directory: Path, slots: list[FindingSlot]) -> tuple[Any, Any, BundleConfig]:
    model, tokenizer = load_checkpoint(directory)
    token_id = getattr(model.config, "image_token_id", None)
    if token_id is None:
        token_id = getattr(model.config, "image_token_index", None)
    if token_id is None or not hasattr(model, "get_image_features"):
        raise ConfigError(f"{directory} is not a LLaVA-style checkpoint: no config.image_token_id")
    image_token = tokenizer.convert_ids_to_tokens(int(token_id))
    vcfg = model.config.vision_config
    size = vcfg.image_size if isinstance(vcfg.image_size, int) else int(vcfg.image_size[0])
    channels = int(getattr(vcfg, "num_channels", 3))
    mean, std = [0.5] * channels, [0.5] * channels
    try:
        processor = AutoProcessor.from_pretrained(directory, local_files_only=True)
        image_processor = getattr(processor, "image_processor", None)
        if image_processor is not None and getattr(image_processor, "image_mean", None):
            mean, std = list(image_processor.image_mean), list(image_processor.image_std)
    except (OSError, ValueError, TypeError):
        pass  # no processor saved: fall back to mean 0.5 / std 0.5
    with torch.no_grad():
        probe = model.get_image_features(pixel_values=torch.zeros(1, channels, size, size), return_dict=True)
    features = probe.pooler_output[0]
    hidden = probe.last_hidden_state.shape[-1]
    bundle_config = BundleConfig(
        preset=f"path:{directory}",
        image_size=size,
        slots=slots,
        image_token=image_token,
        num_image_tokens=int(features.shape[0]),
        num_channels=channels,
        pixel_mode="minmax_mean_std",
        image_mean=[float(v) for v in mean],
        image_std=[float(v) for v in std],
        head_hidden=256,
        head_tokens=int(probe.last_hidden_state.shape[1]),
        head_local=True,
        vision_feature_dim=int(hidden),
        source=str(directory),
    )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return model, tokenizer, bundle_config
