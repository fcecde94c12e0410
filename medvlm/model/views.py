"""The lateral view as a second image: a learned view embedding, and turning the inputs on for a bundle.

The lateral goes through the same vision encoder as the frontal. What tells the two apart is a learned view
embedding added to the lateral's tokens: in the vision feature space (what the findings head reads) and,
for our own LLaVA presets, in the language model's space after the projector (a forward hook on the
projector adds it to the lateral images' rows). The frontal is the reference (embedding 0), so a model
that never sees a lateral computes exactly what it did before.

``path:`` checkpoints get the lateral as a second image in the chat turn when their processor takes
several images per sample with a fixed number of tokens each; the others are refused when the inputs are
configured, before any training.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from medvlm.errors import ConfigError
from medvlm.model.architectures import part_modules
from medvlm.model.configuration import BundleConfig, check_inputs

VIEWS_FILE = "views.safetensors"
# path: families whose processor takes several images in one user turn, each with a fixed token count.
# LLaVA-NeXT (any-res tiles) and Qwen2-VL (tokens depend on the film's size) give a lateral a different
# number of tokens than the frontal, which the findings head cannot pool with one layout.
MULTI_IMAGE = ("llava", "gemma3", "idefics3", "smolvlm")


class ViewEmbedding(nn.Module):
    """The lateral's learned offsets: ``vision`` (feature dim) for the head, ``text`` for the LM."""

    def __init__(self, vision_dim: int, text_dim: int) -> None:
        super().__init__()
        self.vision = nn.Parameter(torch.zeros(vision_dim))
        self.text = nn.Parameter(torch.zeros(text_dim))


class ProjectorViews:
    """Forward hook on the projector: adds ``text`` to the output rows of lateral images.

    ``active`` is set around a call (one bool per image fed, in the order fed); None leaves outputs as
    they are. A plain object, not a bound method, so a deep copy of the model does not copy the bundle."""

    def __init__(self, views: ViewEmbedding) -> None:
        self.views = views
        self.active: torch.Tensor | None = None

    def __call__(self, module: Any, args: Any, output: Any) -> Any:
        if self.active is None or not isinstance(output, torch.Tensor) or output.shape[0] != len(self.active):
            return output
        mask = self.active.to(output.device).view(-1, *([1] * (output.ndim - 1)))
        return output + mask.to(output.dtype) * self.views.text.to(output.dtype)


def text_dim(model: Any) -> int:
    return int(model.config.get_text_config().hidden_size)


def check_lateral_supported(config: BundleConfig) -> None:
    """A ``path:`` checkpoint whose processor cannot take a second fixed-size image refuses the lateral."""
    if config.prompt_format == "chat" and config.architecture not in MULTI_IMAGE:
        raise ConfigError(
            f"input 'lateral' needs a processor that takes several images of a fixed token count per "
            f"sample (architectures {list(MULTI_IMAGE)}); this checkpoint is {config.architecture!r}: "
            "drop 'lateral' from the curriculum's inputs"
        )


def attach(bundle: Any, views: ViewEmbedding) -> None:
    """Give ``bundle`` its view embedding and, for plain-prompt LLaVA presets, the projector hook."""
    bundle.views = views
    bundle.projector_views = None
    if bundle.config.prompt_format == "plain":
        projector = part_modules(bundle.model, "projector")
        if projector and isinstance(projector[0], nn.Module):
            hook = ProjectorViews(views)
            projector[0].register_forward_hook(hook)
            bundle.projector_views = hook


def enable_inputs(bundle: Any, inputs: list[str]) -> None:
    """Set what ``bundle`` reads; adding 'lateral' adds the view embedding and the head's lateral term
    (both zero, so outputs stay as they were until a stage trains them). Idempotent."""
    inputs = check_inputs(list(inputs))
    config: BundleConfig = bundle.config
    if "lateral" in inputs:
        check_lateral_supported(config)
        if bundle.views is None:
            attach(bundle, ViewEmbedding(config.vision_feature_dim, text_dim(bundle.model)))
        if bundle.head.lateral is None:
            bundle.head.lateral = nn.Linear(config.vision_feature_dim, bundle.head.num_outputs)
            nn.init.zeros_(bundle.head.lateral.weight)
            nn.init.zeros_(bundle.head.lateral.bias)
            bundle.head.lateral.to(bundle.device)
            config.head_lateral = True
    config.inputs = check_inputs(sorted(set(config.inputs) | set(inputs)))
