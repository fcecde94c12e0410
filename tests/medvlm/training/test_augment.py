"""The training augmentation's bias field: off by default (the augmentation exactly as before), on it varies
brightness smoothly across the film without moving anything, and the curriculum bounds it."""

from __future__ import annotations

import pytest
import torch

from medvlm.training.images import augment


def _films() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    films = torch.rand(4, 1, 64, 64, generator=g) * 0.2 + 0.4
    films[:, :, 20:44, 20:44] += 0.3  # a bright square: where it lands shows the geometry
    return films


def test_no_field_is_the_augmentation_as_before() -> None:
    films = _films()
    plain, theta = augment(films, torch.Generator().manual_seed(3))
    off, theta_off = augment(films, torch.Generator().manual_seed(3), bias_field=0.0)
    assert torch.equal(plain, off) and torch.equal(theta, theta_off)


def test_the_field_changes_brightness_smoothly_and_nothing_else() -> None:
    films = _films()
    plain, theta = augment(films, torch.Generator().manual_seed(3))
    fielded, theta_field = augment(films, torch.Generator().manual_seed(3), bias_field=0.2)
    assert torch.equal(theta, theta_field)  # the same shift, scale and rotation: its draws come last
    assert bool(((fielded - plain).abs().mean(dim=(1, 2, 3)) > 1e-3).all())  # every film changed
    # on a smooth film the change is smooth too: neighbouring pixels move together (low frequency)
    ramp = torch.linspace(0.2, 0.8, 64).expand(4, 1, 64, 64).contiguous()
    with_field = augment(ramp, torch.Generator().manual_seed(3), 0.2)[0]
    diff = with_field - augment(ramp, torch.Generator().manual_seed(3))[0]
    inner = diff[..., 8:-8, 8:-8]  # away from the border the rotation exposes
    step = (inner[..., 1:, :] - inner[..., :-1, :]).abs().mean()
    assert step < inner.abs().mean() * 0.2


def test_the_curriculum_bounds_the_field() -> None:
    from pydantic import ValidationError

    from medvlm.curriculum.schema import Stage

    stage = {"name": "s", "kind": "encoder", "sources": ["labels"], "eval_tasks": ["findings"],
             "select_on": "findings.macro_auroc", "modules": {"vision": "full"}, "steps": 1,
             "batch_size": 1, "lr": 1e-3}
    assert Stage.model_validate(stage).bias_field == 0.0
    assert Stage.model_validate({**stage, "bias_field": 0.15}).bias_field == 0.15
    with pytest.raises(ValidationError, match="bias_field"):
        Stage.model_validate({**stage, "bias_field": 2.0})
