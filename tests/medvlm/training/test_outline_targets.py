"""The outline term: each drawn finding's extent taught to the findings head's detail map."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from medvlm.ontology import load_ontology
from medvlm.training.manifest import read_records
from medvlm.training.outline_targets import GRID, outline_loss, outline_targets
from medvlm.training.stage import StageModule
from tests.medvlm.training.conftest import encoder_curriculum


def slots():
    from medvlm.model.configuration import slots_from_ontology

    return slots_from_ontology(load_ontology())


def test_targets_cover_the_drawn_extent_and_know_only_outlined_findings(synth_data: Path) -> None:
    records = read_records(synth_data)
    names = [s.name for s in slots()]
    targets, known = outline_targets(records, slots())
    assert targets.shape == (len(records), len(names), GRID, GRID) and targets.dtype == torch.uint8
    effusion, nodule, cardio = (names.index(n) for n in ("pleural_effusion", "nodule", "cardiomegaly"))
    assert bool(known[:, effusion].all()) and bool(known[:, nodule].all())
    assert not bool(known[:, cardio].any())  # a whole-chest change has no outline
    for r, record in enumerate(records):
        drawn = {f.label for f in record.findings}
        assert bool(targets[r, effusion].any()) == ("pleural_effusion" in drawn)
        assert bool(targets[r, nodule].any()) == ("nodule" in drawn)
    real = [replace(r, masks=None) for r in records[:2]]  # real films: nothing known
    assert not bool(outline_targets(real, slots())[1].any())


def test_the_loss_follows_the_augmentation_and_counts_known_pairs_only() -> None:
    targets = torch.zeros(1, 1, 8, 8, dtype=torch.uint8)
    targets[0, 0, 2:4, 2:4] = 255
    identity = torch.eye(2, 3)[None]
    right = torch.full((1, 64, 1), -9.0)
    right[0, [18, 19, 26, 27], 0] = 9.0  # the same 2 x 2 square on the 8 x 8 map
    known = torch.ones(1, 1, dtype=torch.bool)
    assert float(outline_loss(right, targets, known, identity)) < 0.05
    shifted = torch.tensor([[[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]])  # the film moved: so must its targets
    assert float(outline_loss(right, targets, known, shifted)) > 0.5
    assert float(outline_loss(right, targets, ~known, shifted)) == 0.0


def test_an_encoder_stage_trains_with_outlines(synth_data: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    from medvlm.model import build_model, load_bundle
    from medvlm.training.runner import TrainOptions, train

    curriculum = encoder_curriculum(tmp_path, 4, "outline: 1.0")
    out = tmp_path / "model"
    train(TrainOptions(curriculum, synth_data, out, progress=False, register=False))
    assert "outline not used" not in capsys.readouterr().out
    saved = load_bundle(out).head.state_dict()  # the outline map is not part of the saved model
    assert saved.keys() == build_model("micro", load_ontology(), seed=0).head.state_dict().keys()


def test_films_without_masks_train_without_the_term(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from medvlm.training.runner import TrainOptions, train
    from tests.medvlm.training.synthdata import build_dataset

    data = build_dataset(tmp_path / "data", n_train=24, n_validation=8)
    manifest = data / "manifest.jsonl"
    manifest.write_text(manifest.read_text().replace('"masks":', '"masks_not_written":'))
    curriculum = encoder_curriculum(tmp_path, 3, "outline: 1.0")
    train(TrainOptions(curriculum, data, tmp_path / "model", progress=False, register=False))
    assert "[encoder] outline not used: no film in its sources carries masks" in capsys.readouterr().out


def test_the_stage_loss_adds_the_weighted_outline_term(synth_data: Path) -> None:
    from medvlm.model import build_model
    from medvlm.training.examples import findings_targets

    bundle = build_model("micro", load_ontology(), seed=0)
    bundle.model.train()
    bundle.head.train()
    records = read_records(synth_data)[:2]
    targets, known = outline_targets(records, slots())
    theta = torch.eye(2, 3)[None].repeat(2, 1, 1)
    payload = {**findings_targets(records, slots()), "outlines": targets, "outline_known": known,
               "theta": theta}
    images = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    module = StageModule(bundle)
    plain = module("encoder", images, payload, 4)  # no outline map: the findings loss alone
    assert bundle.head.detail is not None
    module.outline_head = torch.nn.Conv2d(bundle.head.detail.in_channels, len(slots()), 1)
    module.outline = 2.0
    weighted = module("encoder", images, payload, 4)
    with torch.no_grad():
        _, detail, _ = bundle.findings_pass(images)
        where = module.outline_head(detail).flatten(2).transpose(1, 2)
        expected = outline_loss(where, targets, known, theta)
    assert float(expected) > 0
    assert float((weighted - plain).detach()) == pytest.approx(2.0 * float(expected), rel=1e-4)
