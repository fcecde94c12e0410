"""Presets: ``tiny`` (CPU, a few million parameters), ``small`` (GPU), ``path:DIR`` (a local checkpoint),
and ``micro`` (tests only).

``tiny`` and ``small`` are ``LlavaForConditionalGeneration`` built from config (conv vision tower from
``vision.py`` + a small Llama), with a tokenizer trained on the report corpus. ``path:DIR`` loads a
checkpoint of an architecture in ``medvlm.model.architectures`` (LLaVA / LLaVA-NeXT, Gemma 3, Qwen2-VL /
Qwen2.5-VL, Idefics3 / SmolVLM) with its own processor and chat template (``local_files_only``: nothing is
downloaded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForImageTextToText,
    AutoTokenizer,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
)
from transformers.utils import logging as hf_logging

from medvlm.errors import ConfigError, NotFoundError
from medvlm.model import vision
from medvlm.model.architectures import family_of, image_tokens
from medvlm.model.checkpoint_processor import load_processor
from medvlm.model.codecs import ProcessorCodec
from medvlm.model.configuration import BundleConfig, FindingSlot
from medvlm.model.quantize import quantization_config
from medvlm.model.remote_code import check_remote_code
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
    head_pool: int = 0  # the findings head's grid of cells (0: every token; see FindingsHead)


PRESETS: dict[str, PresetSpec] = {
    # tiny: the head reads 4x4 cells of the 8x8 grid. Measured (iu7, 1800 encoder steps): supported macro
    # AUROC 0.682 vs 0.639 with every token, paired +0.042 [+0.018, +0.066] (docs/performance.md).
    "tiny": PresetSpec(256, [16, 32, 64, 128, 192], 192, 192, 3, 4, 512, 2048, 512, 256, head_pool=4),
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
        head_pool=spec.head_pool,
    )
    return model, tokenizer, bundle_config


def _has_weights(directory: Path) -> bool:
    return any(directory.glob("*.safetensors")) or any(directory.glob("*.bin"))


def load_checkpoint(
    directory: Path,
    with_tokenizer: bool = True,
    *,
    quantize: str | None = None,
    dtype: torch.dtype | str | None = None,
) -> tuple[Any, Any]:
    """Model + tokenizer of a local checkpoint; a directory without weights is a NotFoundError.

    Checkpoints with their own code load only when the site reviewed it (``medvlm.model.remote_code``);
    ``quantize="4bit"`` loads the weights through bitsandbytes (QLoRA, GPU only)."""
    if not directory.is_dir():
        raise NotFoundError(f"model checkpoint directory {directory} does not exist")
    if not (directory / "config.json").is_file() or not _has_weights(directory):
        raise NotFoundError(f"no model weights in {directory}: expected config.json and *.safetensors")
    from medvlm.settings import get_settings

    trust = check_remote_code(directory, get_settings().trusted_remote_code)
    kwargs: dict[str, Any] = {"local_files_only": True, "trust_remote_code": trust}
    if quantize:
        kwargs["quantization_config"] = quantization_config(quantize)
        if torch.cuda.is_available():  # bitsandbytes weights live on the GPU (checked by quantization_config)
            kwargs["device_map"] = {"": torch.cuda.current_device()}
    # a CPU computes in fp32 (a bf16 checkpoint is upcast); a GPU keeps the checkpoint's own dtype (bf16 for
    # published VLMs), which halves the weights' memory; autocast then runs the mixed-precision parts
    kwargs["dtype"] = dtype if dtype is not None else ("auto" if torch.cuda.is_available() else torch.float32)
    try:
        model = AutoModelForImageTextToText.from_pretrained(directory, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{directory} is not a loadable image-text-to-text checkpoint: {exc}") from exc
    return model, (_tokenizer(directory, trust) if with_tokenizer else None)


def _tokenizer(directory: Path, trust: bool = False) -> Any:
    try:
        return AutoTokenizer.from_pretrained(directory, local_files_only=True, trust_remote_code=trust)
    except (OSError, ValueError) as exc:
        raise NotFoundError(f"no tokenizer in {directory}: {exc}") from exc


def _has_processor(directory: Path) -> bool:
    return any((directory / n).is_file() for n in ("processor_config.json", "preprocessor_config.json"))


def _image_side(model: Any, processor: Any) -> int:
    """The square film size to hand the processor: the encoder's own input size where it has one."""
    vcfg = model.config.vision_config
    size = getattr(vcfg, "image_size", None)
    if size is not None:
        return int(size if isinstance(size, int) else size[0])
    # Qwen2-VL-style dynamic resolution: as large as the processor allows, at most 448 px (256 tokens)
    step = int(getattr(vcfg, "patch_size", 14)) * int(getattr(vcfg, "spatial_merge_size", 2))
    limit = getattr(processor.image_processor, "size", {}).get("longest_edge") or 448 * 448
    side = min(448, int(limit**0.5))
    return max(step, side // step * step)


def build_from_path(directory: Path, slots: list[FindingSlot]) -> tuple[Any, Any, BundleConfig, Any]:
    """(model, tokenizer, bundle config, processor) of a local checkpoint of a supported architecture."""
    model, _ = load_checkpoint(directory, with_tokenizer=False)
    family = family_of(model)  # an unsupported architecture is refused before anything else is read
    if not _has_processor(directory):
        if family.name != "llava":
            raise ConfigError(
                f"{directory} has no processor (processor_config.json or preprocessor_config.json); a "
                f"{family.name} checkpoint needs its own processor saved beside the weights"
            )
        return (*_build_plain(directory, model, _tokenizer(directory), slots), None)
    processor = load_processor(directory)
    side = _image_side(model, processor)
    config = BundleConfig(
        preset=f"path:{directory}",
        image_size=side,
        slots=slots,
        image_token=str(getattr(processor, "image_token", None) or "<image>"),
        num_channels=3,
        pixel_mode="processor",
        head_hidden=256,
        head_local=True,
        source=str(directory),
        prompt_format="chat",
        architecture=family.name,
    )
    codec = ProcessorCodec(processor, config)
    with torch.no_grad():
        tokens = image_tokens(model, codec.image_inputs(torch.zeros(1, 1, side, side), torch.device("cpu"),
                                                        next(model.parameters()).dtype))
    config.num_image_tokens = config.head_tokens = int(tokens.shape[1])
    config.vision_feature_dim = int(tokens.shape[2])
    tokenizer = processor.tokenizer
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, config, processor


def _build_plain(
    directory: Path, model: Any, tokenizer: Any, slots: list[FindingSlot]
) -> tuple[Any, Any, BundleConfig]:
    """A LLaVA checkpoint without a processor: our own prompt format and pixel normalisation."""
    token_id = getattr(model.config, "image_token_id", None)
    if token_id is None:
        token_id = getattr(model.config, "image_token_index", None)
    if token_id is None or not hasattr(model, "get_image_features"):
        raise ConfigError(f"{directory} is not a LLaVA-style checkpoint: no config.image_token_id")
    image_token = tokenizer.convert_ids_to_tokens(int(token_id))
    vcfg = model.config.vision_config
    size = vcfg.image_size if isinstance(vcfg.image_size, int) else int(vcfg.image_size[0])
    channels = int(getattr(vcfg, "num_channels", 3))
    mean, std = [0.5] * channels, [0.5] * channels  # no processor saved: CLIP/SigLIP-style 0.5 / 0.5
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
