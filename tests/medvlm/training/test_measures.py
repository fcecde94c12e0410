"""The auxiliary regression of a rendered film's recorded measures (CTR, effusion levels)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from medvlm.findings import Finding
from medvlm.ontology import load_ontology
from medvlm.training.manifest import Record, read_records
from medvlm.training.measures import MEASURES, measure_loss, measure_targets, record_measures
from tests.medvlm.training.conftest import encoder_curriculum


def record(render: dict | None) -> Record:
    provenance = {} if render is None else {"render": render}
    return Record("s", "1.2.3", "train", [], [Finding("cardiomegaly")], provenance=provenance)


def test_a_rendered_film_gives_its_ctr_and_each_sides_effusion_level() -> None:
    film = record({"ctr": 0.56, "findings": [
        {"label": "cardiomegaly", "ctr": 0.56},
        {"label": "pleural_effusion", "sides": ["left"], "level_mm": [31.5]},
    ]})
    assert record_measures(film) == [0.56, 0.0, 31.5]
    both = record({"ctr": 0.45, "findings": [
        {"label": "pleural_effusion", "sides": ["right", "left"], "level_mm": [20.8, 17.9]}
    ]})
    assert record_measures(both) == [0.45, 20.8, 17.9]


def test_a_film_without_records_gives_no_targets() -> None:
    for film in (record(None), record({"findings": []})):  # a real film; a build before the CTR was recorded
        assert all(math.isnan(v) for v in record_measures(film))


def test_targets_are_standardised_over_the_films_that_have_them() -> None:
    films = [record({"ctr": c, "findings": []}) for c in (0.4, 0.5, 0.6)] + [record(None)]
    targets, mean, _ = measure_targets(films)
    assert targets.shape == (4, len(MEASURES))
    assert float(mean[0]) == pytest.approx(0.5)
    assert targets[:3, 0].tolist() == pytest.approx([-1.0, 0.0, 1.0])
    assert bool(targets[3].isnan().all())
    assert torch.equal(targets[:3, 1], torch.zeros(3))  # no effusion anywhere: a constant, scaled safely


def test_the_loss_reads_only_recorded_measures() -> None:
    targets = torch.tensor([[1.0, 0.0, 0.0], [math.nan] * 3])
    right = torch.tensor([[1.0, 0.0, 0.0], [50.0, -50.0, 9.0]])
    assert float(measure_loss(right, targets)) == pytest.approx(0.0)
    wrong = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
    loss = measure_loss(wrong, targets)
    # smooth L1 of an error of 2, over the one film with records
    assert float(loss.detach()) == pytest.approx(1.5)
    loss.backward()
    assert wrong.grad is not None and torch.equal(wrong.grad[1], torch.zeros(3))
    assert float(measure_loss(wrong, torch.full((2, 3), math.nan)).detach()) == 0.0


def test_encoder_loss_adds_the_weighted_measures_term() -> None:
    from medvlm.model import build_model
    from medvlm.model.configuration import slots_from_ontology
    from medvlm.training.examples import findings_targets
    from medvlm.training.stage import StageModule

    bundle = build_model("micro", load_ontology(), seed=0)
    bundle.model.train()
    bundle.head.train()
    films = [record({"ctr": 0.6, "findings": []}), record({"ctr": 0.4, "findings": []})]
    targets, _, _ = measure_targets(films)
    payload = {**findings_targets(films, slots_from_ontology(load_ontology())), "measures": targets}
    images = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    module = StageModule(bundle)
    plain = module("encoder", images, payload, 4)  # no measures head: the findings loss alone
    module.measures, module.measure_weight = torch.nn.Linear(bundle.head.feature_dim, len(MEASURES)), 3.0
    weighted = module("encoder", images, payload, 4)
    with torch.no_grad():
        _, _, features = bundle.findings_pass(images)
        expected = measure_loss(module.measures(features), targets)
    assert float(expected) > 0
    assert float((weighted - plain).detach()) == pytest.approx(3.0 * float(expected), rel=1e-4)


def test_the_head_reads_its_features_the_same_way_either_path() -> None:
    from medvlm.model import build_model

    bundle = build_model("micro", load_ontology(), seed=0)
    bundle.eval()
    images = torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits, detail = bundle.findings_outputs(images)
        again, _, features = bundle.findings_pass(images)
        tokens, _ = bundle.vision_features(bundle.pixel_values(images))
        direct = bundle.head(tokens, detail)
    assert torch.equal(logits, again) and torch.equal(logits, direct)
    assert features.shape == (3, bundle.head.feature_dim)


def test_an_encoder_stage_trains_with_measures_and_saves_a_plain_model(synth_data: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    from medvlm.model import build_model, load_bundle
    from medvlm.training.runner import TrainOptions, train

    assert not any(math.isnan(v) for v in record_measures(read_records(synth_data)[0]))
    curriculum = encoder_curriculum(tmp_path, 4, "measures: 1.0")
    out = tmp_path / "model"
    train(TrainOptions(curriculum, synth_data, out, progress=False, register=False))
    assert "measures not used" not in capsys.readouterr().out
    saved = load_bundle(out).head.state_dict()  # the auxiliary head is not part of the saved model
    assert saved.keys() == build_model("micro", load_ontology(), seed=0).head.state_dict().keys()


def test_films_without_records_train_without_the_term(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from medvlm.training.runner import TrainOptions, train
    from tests.medvlm.training.synthdata import build_dataset

    data = build_dataset(tmp_path / "data", n_train=24, n_validation=8)
    manifest = data / "manifest.jsonl"
    manifest.write_text(manifest.read_text().replace('"ctr":', '"ctr_not_recorded":'))
    curriculum = encoder_curriculum(tmp_path, 3, "measures: 1.0")
    train(TrainOptions(curriculum, data, tmp_path / "model", progress=False, register=False))
    assert "[encoder] measures not used: no film in its sources records them" in capsys.readouterr().out
