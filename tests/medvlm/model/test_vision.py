"""The conv vision tower's detail map: the stride-8 stage, with the stride-16 stage's context beside it."""

from __future__ import annotations

import pytest
import torch

from medvlm.model.vision import CxrVisionConfig, CxrVisionModel

WIDTHS = [8, 16, 32, 48]


def tower(detail_stage: int, context_stage: int) -> CxrVisionModel:
    config = CxrVisionConfig(
        image_size=64,
        hidden_size=32,
        widths=WIDTHS,
        patch_size=16,
        detail_stage=detail_stage,
        detail_context_stage=context_stage,
    )
    return CxrVisionModel(config).eval()


def test_detail_map_appends_the_context_stage_upsampled() -> None:
    model = tower(3, 4)
    pixels = torch.randn(2, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        detail = model(pixels).detail
        stage4 = model.stages[:4](pixels)
    assert model.config.detail_channels == 32 + 48
    assert detail.shape == (2, 80, 8, 8)  # stride 8 at 64 px
    context = detail[:, 32:]
    # Each stride-16 cell covers a 2x2 block of the stride-8 map, nearest-neighbour.
    assert torch.equal(context[:, :, ::2, ::2], stage4) and torch.equal(context[:, :, 1::2, 1::2], stage4)
    assert torch.equal(detail[:, :32], model.stages[:3](pixels))


@pytest.mark.parametrize(("detail_stage", "context_stage", "channels"), [(3, 0, 32), (0, 0, 0)])
def test_towers_without_context_keep_their_detail_map(
    detail_stage: int, context_stage: int, channels: int
) -> None:
    """Bundles saved before the context stage existed (no ``detail_context_stage``) load as they were."""
    model = tower(detail_stage, context_stage)
    detail = model(torch.zeros(1, 1, 64, 64)).detail
    assert model.config.detail_channels == channels
    assert (detail is None) if not channels else detail.shape[1] == channels
