"""Random-weight checkpoints of each natively supported architecture, built from config, offline.

``save_checkpoint(arch, directory, scale="tiny")`` writes what a site would copy in (``config.json``,
safetensors, tokenizer, processor with its chat template), so the ``path:`` code is exercised exactly as
with real weights. ``tiny``: 1-2 layers, hidden 32, 32-px images (tests, CPU benchmark); ``4b``: the layer
sizes of a 4B-class model (GPU benchmark only). The tokenizer is trained locally (no download) and carries
the special tokens each architecture's processor looks up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medvlm.errors import ConfigError
from medvlm.model.checkpoint_processor import image_only_processor
from medvlm.model.tokenizer import train_tokenizer

CORPUS = [
    "Heart size is normal. The lungs are clear. No pleural effusion or pneumothorax.",
    "Small left pleural effusion. Moderate cardiomegaly. Right upper lobe nodule.",
    "No acute cardiopulmonary abnormality. Endotracheal tube in place.",
] * 5

# Simplified forms of each family's chat template (role markers and image placeholder as in the originals).
TEMPLATES = {
    "llava": (
        "{% for m in messages %}{{ 'USER: ' if m.role == 'user' else 'ASSISTANT: ' }}"
        "{% for c in m.content %}{% if c.type == 'image' %}<image>\n{% else %}{{ c.text }}{% endif %}"
        "{% endfor %}\n{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
    ),
    "gemma3": (
        "{% for m in messages %}<start_of_turn>{{ 'model' if m.role == 'assistant' else m.role }}\n"
        "{% for c in m.content %}{% if c.type == 'image' %}<start_of_image>{% else %}{{ c.text }}{% endif %}"
        "{% endfor %}<end_of_turn>\n{% endfor %}"
        "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    ),
    "qwen": (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{% for c in m.content %}{% if c.type == 'image' %}"
        "<|vision_start|><|image_pad|><|vision_end|>{% else %}{{ c.text }}{% endif %}{% endfor %}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    ),
    "idefics3": (
        "<|im_start|>{% for m in messages %}{{ m.role | capitalize }}:{% for c in m.content %}"
        "{% if c.type == 'image' %}<image>{% else %}{{ c.text }}{% endif %}{% endfor %}<end_of_utterance>\n"
        "{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
    ),
}


@dataclass(frozen=True)
class Size:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vision_hidden: int
    vision_layers: int
    vision_heads: int
    image: int


SIZES = {
    "tiny": Size(32, 1, 2, 1, 64, 32, 1, 2, 32),
    # 4B class (Gemma 3 4B / Qwen2.5-VL 3B-like): GPU benchmark only, never in tests.
    "4b": Size(2560, 34, 8, 4, 10240, 1152, 27, 16, 448),
}


def _text(size: Size, vocab: int, tok: Any, **extra: Any) -> dict[str, Any]:
    return {
        "vocab_size": vocab,
        "hidden_size": size.hidden,
        "intermediate_size": size.intermediate,
        "num_hidden_layers": size.layers,
        "num_attention_heads": size.heads,
        "num_key_value_heads": size.kv_heads,
        "max_position_embeddings": 4096,
        "pad_token_id": tok.pad_token_id,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        **extra,
    }


def _siglip(size: Size, patch: int) -> dict[str, Any]:
    return {
        "model_type": "siglip_vision_model",
        "image_size": size.image,
        "patch_size": patch,
        "hidden_size": size.vision_hidden,
        "intermediate_size": size.vision_hidden * 2 if size.image < 64 else 4304,
        "num_hidden_layers": size.vision_layers,
        "num_attention_heads": size.vision_heads,
    }


def _llava(size: Size, tok: Any, next_: bool) -> tuple[Any, Any]:
    from transformers import (
        CLIPImageProcessorPil,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessorPil,
        LlavaNextProcessor,
        LlavaProcessor,
    )

    patch = 8 if size.image < 64 else 14
    vision = {
        "model_type": "clip_vision_model",
        "image_size": size.image,
        "patch_size": patch,
        "hidden_size": size.vision_hidden,
        "intermediate_size": size.vision_hidden * 2,
        "num_hidden_layers": size.vision_layers,
        "num_attention_heads": size.vision_heads,
    }
    common = {
        "vision_config": vision,
        "text_config": {"model_type": "llama", **_text(size, len(tok), tok)},
        "image_token_index": tok.convert_tokens_to_ids("<image>"),
        "vision_feature_select_strategy": "default",
        "vision_feature_layer": -1,
    }
    crop = {"height": size.image, "width": size.image}
    config: Any
    model: Any
    image_processor: Any
    if next_:
        config = LlavaNextConfig(**common, image_grid_pinpoints=[[size.image, size.image]])
        model = LlavaNextForConditionalGeneration(config)
        image_processor = LlavaNextImageProcessorPil(
            size={"shortest_edge": size.image},
            crop_size=crop,
            image_grid_pinpoints=[[size.image, size.image]],
        )
        processor: Any = LlavaNextProcessor(
            image_processor,
            tok,
            patch_size=patch,
            vision_feature_select_strategy="default",
            num_additional_image_tokens=1,
            chat_template=TEMPLATES["llava"],
        )
    else:
        config = LlavaConfig(**common)
        model = LlavaForConditionalGeneration(config)
        image_processor = CLIPImageProcessorPil(size={"shortest_edge": size.image}, crop_size=crop)
        processor = LlavaProcessor(
            image_processor,
            tok,
            patch_size=patch,
            vision_feature_select_strategy="default",
            num_additional_image_tokens=1,
            chat_template=TEMPLATES["llava"],
        )
    return model, processor


def _gemma3(size: Size, tok: Any) -> tuple[Any, Any]:
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessorPil,
        Gemma3Processor,
    )

    patch = 8 if size.image < 64 else 14
    tokens = 4 if size.image < 64 else 256  # mm_tokens_per_image: a square number (avg-pooled grid)
    text = _text(size, len(tok), tok, head_dim=size.hidden // size.heads, sliding_window=64)
    config = Gemma3Config(
        text_config={"model_type": "gemma3_text", **text},
        vision_config=_siglip(size, patch),
        mm_tokens_per_image=tokens,
        boi_token_index=tok.convert_tokens_to_ids("<start_of_image>"),
        eoi_token_index=tok.convert_tokens_to_ids("<end_of_image>"),
        image_token_index=tok.convert_tokens_to_ids("<image_soft_token>"),
    )
    model = Gemma3ForConditionalGeneration(config)
    image_processor = Gemma3ImageProcessorPil(size={"height": size.image, "width": size.image})
    processor = Gemma3Processor(
        image_processor, tok, chat_template=TEMPLATES["gemma3"], image_seq_length=tokens
    )
    return model, processor


def _qwen(size: Size, tok: Any, v25: bool) -> tuple[Any, Any]:
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessorPil,
        Qwen2VLProcessor,
    )

    patch = 4 if size.image < 64 else 14
    head_dim = size.hidden // size.heads
    text = _text(
        size,
        len(tok),
        tok,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": [head_dim // 4] * 2,
        },
    )
    # mrope sections must add up to half the head dim: temporal, height, width
    sections = [head_dim // 2 - 2 * (head_dim // 6), head_dim // 6, head_dim // 6]
    text["rope_parameters"]["mrope_section"] = sections
    vision: dict[str, Any] = {
        "depth": size.vision_layers,
        "hidden_size": size.hidden,  # = the LM width the merger projects to
        "num_heads": size.vision_heads,
        "patch_size": patch,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    ids = {
        "image_token_id": tok.convert_tokens_to_ids("<|image_pad|>"),
        "video_token_id": tok.convert_tokens_to_ids("<|video_pad|>"),
        "vision_start_token_id": tok.convert_tokens_to_ids("<|vision_start|>"),
        "vision_end_token_id": tok.convert_tokens_to_ids("<|vision_end|>"),
    }
    if v25:
        vision.update(
            out_hidden_size=size.hidden,
            intermediate_size=size.vision_hidden * 2,
            fullatt_block_indexes=[0],
            window_size=patch * 4,
        )
        vision["hidden_size"] = size.vision_hidden
        config: Any = Qwen2_5_VLConfig(
            text_config={"model_type": "qwen2_5_vl_text", **text}, vision_config=vision, **ids
        )
        model: Any = Qwen2_5_VLForConditionalGeneration(config)
    else:
        vision["embed_dim"] = size.vision_hidden
        config = Qwen2VLConfig(
            text_config={"model_type": "qwen2_vl_text", **text}, vision_config=vision, **ids
        )
        model = Qwen2VLForConditionalGeneration(config)
    pixels = size.image * size.image
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=patch,
        merge_size=2,
        temporal_patch_size=2,
        size={"shortest_edge": pixels, "longest_edge": pixels},
    )
    cls = Qwen2_5_VLProcessor if v25 else Qwen2VLProcessor
    return model, image_only_processor(cls, image_processor, tok, TEMPLATES["qwen"])


def _idefics3(size: Size, tok: Any, smol: bool) -> tuple[Any, Any]:
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
        SmolVLMConfig,
        SmolVLMForConditionalGeneration,
        SmolVLMImageProcessorPil,
        SmolVLMProcessor,
    )

    patch = 8 if size.image < 64 else 16
    scale = 2
    seq = (size.image // patch) ** 2 // scale**2
    vision = {k: v for k, v in _siglip(size, patch).items() if k != "model_type"}
    common = {
        "text_config": {"model_type": "llama", **_text(size, len(tok), tok)},
        "vision_config": vision,
        "scale_factor": scale,
        "image_token_id": tok.convert_tokens_to_ids("<image>"),
    }
    edge = {"longest_edge": size.image}
    if smol:
        model: Any = SmolVLMForConditionalGeneration(SmolVLMConfig(**common))
        image_processor: Any = SmolVLMImageProcessorPil(
            size=edge, max_image_size=edge, do_image_splitting=False
        )
        processor: Any = image_only_processor(
            SmolVLMProcessor, image_processor, tok, TEMPLATES["idefics3"], image_seq_len=seq
        )
    else:
        model = Idefics3ForConditionalGeneration(Idefics3Config(**common))
        image_processor = Idefics3ImageProcessorPil(size=edge, max_image_size=edge, do_image_splitting=False)
        processor = Idefics3Processor(
            image_processor, tok, image_seq_len=seq, chat_template=TEMPLATES["idefics3"]
        )
    return model, processor


# architecture -> (named special tokens, other special tokens)
TOKENS: dict[str, tuple[dict[str, str], list[str]]] = {
    "llava": ({}, []),
    "llava_next": ({}, []),
    "gemma3": (
        {"image_token": "<image_soft_token>", "boi_token": "<start_of_image>", "eoi_token": "<end_of_image>"},
        ["<start_of_turn>", "<end_of_turn>"],
    ),
    "qwen2_vl": (
        {
            "image_token": "<|image_pad|>",
            "video_token": "<|video_pad|>",
            "vision_bos_token": "<|vision_start|>",
            "vision_eos_token": "<|vision_end|>",
        },
        ["<|im_start|>", "<|im_end|>"],
    ),
    "idefics3": ({}, ["<fake_token_around_image>", "<global-img>", "<end_of_utterance>", "<|im_start|>"]),
}
TOKENS["qwen2_5_vl"] = TOKENS["qwen2_vl"]
TOKENS["smolvlm"] = TOKENS["idefics3"]

ARCHITECTURES = ["llava", "llava_next", "gemma3", "qwen2_vl", "qwen2_5_vl", "idefics3", "smolvlm"]


def build_checkpoint(arch: str, scale: str = "tiny", vocab_size: int = 400) -> tuple[Any, Any]:
    """(model, processor) of ``arch`` with random weights; the processor holds the tokenizer."""
    import torch

    if arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {arch!r}; expected one of {ARCHITECTURES}")
    if scale not in SIZES:
        raise ConfigError(f"unknown checkpoint scale {scale!r}; expected one of {sorted(SIZES)}")
    size = SIZES[scale]
    named, extra = TOKENS[arch]
    tok = train_tokenizer(CORPUS, vocab_size=vocab_size, named_tokens=named, extra_tokens=extra)
    torch.manual_seed(0)
    if arch in ("llava", "llava_next"):
        return _llava(size, tok, next_=arch == "llava_next")
    if arch == "gemma3":
        return _gemma3(size, tok)
    if arch in ("qwen2_vl", "qwen2_5_vl"):
        return _qwen(size, tok, v25=arch == "qwen2_5_vl")
    return _idefics3(size, tok, smol=arch == "smolvlm")


def save_checkpoint(arch: str, directory: Path, scale: str = "tiny") -> Path:
    """Write a random-weight ``arch`` checkpoint to ``directory`` as a site would receive one."""
    model, processor = build_checkpoint(arch, scale)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory
