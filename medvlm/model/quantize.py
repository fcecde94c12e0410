"""4-bit loading for QLoRA: bitsandbytes NF4 weights, bf16 compute; only with a CUDA GPU and bitsandbytes."""

from __future__ import annotations

import importlib.util
from typing import Any

import torch

from medvlm.errors import ConfigError

MODES = ("4bit",)


def quantization_config(mode: str) -> Any:
    """A ``BitsAndBytesConfig`` for ``mode``; a ConfigError saying what is missing otherwise."""
    if mode not in MODES:
        raise ConfigError(f"quantize must be one of {list(MODES)} (or none), got {mode!r}")
    if not torch.cuda.is_available():
        raise ConfigError(
            "QLoRA (quantize: 4bit) needs a CUDA GPU and this machine has none; train LoRA in full precision "
            "(quantize: none) instead"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError("QLoRA (quantize: 4bit) needs the bitsandbytes package: pip install bitsandbytes")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
