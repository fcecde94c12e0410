"""Greedy decoding with the KV cache, calling the LLaVA parts directly.

``generate()`` costs ~20 ms of bookkeeping per token on a busy CPU; this loop costs what the tiny language
model costs (a few ms), which is what keeps a full draft within the latency budget.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from transformers import DynamicCache


def _parts(model: Any) -> tuple[Any, Any]:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model.language_model, base.lm_head


@torch.no_grad()
def greedy_generate(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    pixel_values: torch.Tensor,
    image_token_id: int,
    eos_token_id: int,
    max_new_tokens: int,
) -> torch.Tensor:
    """New token ids (B, <= max_new_tokens) for left-padded prompts; finished rows are padded with EOS."""
    language_model, lm_head = _parts(model)
    embed = language_model.get_input_embeddings()
    features = model.get_image_features(pixel_values=pixel_values, return_dict=True).pooler_output
    features = torch.cat(list(features), dim=0)
    embeds = embed(input_ids)
    mask = (input_ids == image_token_id).unsqueeze(-1).expand_as(embeds)
    embeds = embeds.masked_scatter(mask, features.to(embeds.dtype))
    positions = (attention_mask.cumsum(-1) - 1).clamp_min(0)
    cache = DynamicCache()  # filled in place by every forward call below
    cache_arg = {_cache_keyword(language_model): cache}
    out = language_model(
        inputs_embeds=embeds,
        attention_mask=attention_mask,
        position_ids=positions,
        use_cache=True,
        **cache_arg,
    )
    logits = lm_head(out.last_hidden_state[:, -1])
    finished = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
    tokens = []
    next_pos = positions[:, -1:] + 1
    for _ in range(max_new_tokens):
        token = logits.argmax(-1)
        token = torch.where(finished, torch.full_like(token, eos_token_id), token)
        tokens.append(token)
        finished |= token == eos_token_id
        if bool(finished.all()):
            break
        attention_mask = torch.cat([attention_mask, torch.ones_like(attention_mask[:, :1])], dim=1)
        out = language_model(
            inputs_embeds=embed(token[:, None]),
            attention_mask=attention_mask,
            position_ids=next_pos,
            use_cache=True,
            **cache_arg,
        )
        next_pos = next_pos + 1
        logits = lm_head(out.last_hidden_state[:, -1])
    return torch.stack(tokens, dim=1) if tokens else input_ids[:, :0]


def _cache_keyword(language_model: Any) -> str:
    """transformers 5.x names the KV-cache argument ``cache`` (``past_key_values`` is deprecated there)."""
    parameters = inspect.signature(type(language_model).forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"
