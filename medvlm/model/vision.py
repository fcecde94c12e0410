"""A small convolutional vision tower for the ``tiny`` preset, plugged into ``LlavaForConditionalGeneration``.

Why not a tiny ViT: a ViT trained from scratch on a few thousand radiographs learns slowly on 2 CPU cores,
while a strided conv stack picks up density, shape and small bright spots within minutes. The tower is a
regular ``PreTrainedModel`` registered with the Auto classes, so LLaVA builds it from ``vision_config``,
``save_pretrained`` / ``from_pretrained`` round-trip it, and its output has the shape LLaVA expects:
a token sequence ``(batch, grid*grid, hidden)`` in ``hidden_states``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from transformers import AutoConfig, AutoModel, PreTrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPooling

MODEL_TYPE = "medvlm_cxr_vision"


class CxrVisionConfig(PreTrainedConfig):
    model_type = MODEL_TYPE

    num_channels: int = 1
    image_size: int = 256
    hidden_size: int = 192
    widths: list[int] | None = None  # one stride-2 stage per width; image_size / 2**len(widths) = grid side
    groups: int = 8  # GroupNorm groups (BatchNorm would make DDP and eval/train modes disagree)
    patch_size: int = 32  # = 2**len(widths); LLaVA reads it when image sizes vary
    # The stage whose output is also returned as ``detail`` (stride 2**detail_stage; 0 = none): a calcified
    # granuloma is ~5 px at 256 px, found at stride 8 (receptive field ~31 px) but lost in 32-px tokens.
    detail_stage: int = 0
    # A deeper stage, upsampled and appended to ``detail`` (0 = none): context for nodules (10-20 px,
    # soft tissue), which the stride-8 stage's ~31 px receptive field barely covers with their surround.
    detail_context_stage: int = 0

    @property
    def detail_channels(self) -> int:
        """Channels of ``detail``: the detail stage's width, plus the context stage's when set."""
        if not self.detail_stage:
            return 0
        widths = self.stage_widths
        context = widths[self.detail_context_stage - 1] if self.detail_context_stage else 0
        return widths[self.detail_stage - 1] + context

    @property
    def stage_widths(self) -> list[int]:
        return list(self.widths or [16, 32, 64, 128, 192])

    @property
    def grid(self) -> int:
        return self.image_size // (2 ** len(self.stage_widths))


@dataclass
class CxrVisionOutput(BaseModelOutputWithPooling):
    """The usual tower output plus ``detail``: (B, C, H, W) features of ``config.detail_stage`` (with the
    context stage's, upsampled, appended along C)."""

    detail: torch.Tensor | None = None


class _Stage(nn.Sequential):
    """Stride-2 conv; deeper stages add a second conv (cheap at low resolution, where features mix)."""

    def __init__(self, cin: int, cout: int, groups: int, double: bool) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
            nn.GroupNorm(min(groups, cout), cout),
            nn.GELU(),
        ]
        if double:
            layers += [
                nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                nn.GroupNorm(min(groups, cout), cout),
                nn.GELU(),
            ]
        super().__init__(*layers)


class CxrVisionModel(PreTrainedModel):
    config_class = CxrVisionConfig
    config: CxrVisionConfig
    main_input_name = "pixel_values"
    base_model_prefix = "cxr_vision"
    input_modalities = "image"

    def __init__(self, config: CxrVisionConfig) -> None:
        super().__init__(config)
        stages: list[nn.Module] = []
        cin = config.num_channels
        for i, width in enumerate(config.stage_widths):
            stages.append(_Stage(cin, width, config.groups, double=i >= 2))
            cin = width
        self.stages = nn.Sequential(*stages)
        self.proj = nn.Linear(cin, config.hidden_size)
        # Learned position per grid cell: laterality (left/right) needs to know where a feature is.
        self.position = nn.Parameter(torch.zeros(1, config.grid * config.grid, config.hidden_size))
        self.norm = nn.LayerNorm(config.hidden_size)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.GroupNorm | nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, CxrVisionModel):
            nn.init.normal_(module.position, std=0.02)

    def forward(self, pixel_values: torch.Tensor, **kwargs: Any) -> CxrVisionOutput:
        features = pixel_values.to(self.proj.weight.dtype)
        detail = context = None
        for index, stage in enumerate(self.stages, start=1):
            features = stage(features)
            if index == self.config.detail_stage:
                detail = features
            if index == self.config.detail_context_stage:
                context = features
        if detail is not None and context is not None:
            detail = torch.cat([detail, F.interpolate(context, size=detail.shape[-2:], mode="nearest")], 1)
        tokens = self.proj(features.flatten(2).transpose(1, 2))
        if tokens.shape[1] == self.position.shape[1]:
            tokens = tokens + self.position
        tokens = self.norm(tokens)
        return CxrVisionOutput(
            last_hidden_state=tokens, pooler_output=tokens.mean(dim=1), hidden_states=(tokens,), detail=detail
        )


def register() -> None:
    """Make ``AutoConfig`` / ``AutoModel`` (and so LLaVA) know the tower; safe to call twice."""
    with contextlib.suppress(ValueError):
        AutoConfig.register(MODEL_TYPE, CxrVisionConfig)
    with contextlib.suppress(ValueError):
        AutoModel.register(CxrVisionConfig, CxrVisionModel)


register()
