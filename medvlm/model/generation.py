"""Text generation through transformers' ``generate`` (KV cache, greedy or beam, stop strings), or vLLM.

``GenerationOptions`` is what a caller may choose; ``hf_generate`` runs it on a prepared batch (see
``medvlm.model.codecs``) and returns only the new tokens. The vLLM backend (``medvlm.model.vllm_backend``)
sits behind the same ``ModelBundle.generate_text`` and is used only when chosen and installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from medvlm.errors import ConfigError

Backend = Literal["transformers", "vllm"]


@dataclass(frozen=True)
class GenerationOptions:
    num_beams: int = 1  # 1 = greedy
    stop_strings: list[str] = field(default_factory=list)
    backend: Backend = "transformers"

    def __post_init__(self) -> None:
        if self.num_beams < 1:
            raise ConfigError(f"num_beams must be at least 1, got {self.num_beams}")
        if self.backend not in ("transformers", "vllm"):
            raise ConfigError(f"generation backend must be 'transformers' or 'vllm', got {self.backend!r}")


@torch.no_grad()
def hf_generate(
    model: Any, batch: dict[str, Any], tokenizer: Any, max_new_tokens: int, options: GenerationOptions
) -> torch.Tensor:
    """New token ids ``(B, <= max_new_tokens)`` for a left-padded batch; finished rows padded."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    extra: dict[str, Any] = {}
    if options.stop_strings:
        extra = {"stop_strings": list(options.stop_strings), "tokenizer": tokenizer}
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    out = model.generate(
        **batch,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=options.num_beams,
        use_cache=True,
        pad_token_id=pad,
        eos_token_id=eos,
        **extra,
    )
    sequences = out if isinstance(out, torch.Tensor) else out.sequences
    return sequences[:, batch["input_ids"].shape[1] :]

