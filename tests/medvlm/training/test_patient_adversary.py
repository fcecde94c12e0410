"""The patient adversary: a CT-patient classifier behind a gradient-reversal layer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medvlm.findings import Finding
from medvlm.training.manifest import Record
from medvlm.training.patient_adversary import UNKNOWN, PatientAdversary, patient_targets, reverse_gradient
from tests.medvlm.training.conftest import encoder_curriculum


def record(patient: str | None) -> Record:
    provenance = {} if patient is None else {"ct_patient": patient}
    return Record("s", "1.2.3", "train", [], [Finding("no_finding")], provenance=provenance)


def test_targets_index_the_recorded_patients() -> None:
    targets, names = patient_targets([record("b"), record("a"), record(None), record("b")])
    assert names == ["a", "b"]
    assert targets.tolist() == [1, 0, UNKNOWN, 1]


def test_the_reversal_is_identity_forward_and_negates_the_gradient() -> None:
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    y = reverse_gradient(x, 0.5)
    assert torch.equal(y.detach(), x.detach())
    (y * torch.tensor([3.0, 4.0])).sum().backward()
    assert x.grad is not None and x.grad.tolist() == [-1.5, -2.0]


def test_the_classifier_learns_while_the_features_are_pushed_the_other_way() -> None:
    torch.manual_seed(0)
    adversary = PatientAdversary(4, 2, scale=1.0)
    features = torch.randn(6, 4, requires_grad=True)
    targets = torch.tensor([0, 1, 0, 1, UNKNOWN, UNKNOWN])
    loss = adversary.loss(features, targets)
    loss.backward()
    feature_grad = features.grad.clone()  # type: ignore[union-attr]
    assert torch.equal(feature_grad[4:], torch.zeros(2, 4))  # unrecorded films add nothing
    features.grad = None
    plain = torch.nn.functional.cross_entropy(adversary.classify(features[:4]), targets[:4])
    plain.backward()
    assert torch.allclose(feature_grad[:4], -features.grad[:4])  # type: ignore[index]
    assert float(adversary.loss(features, torch.full((6,), UNKNOWN)).detach()) == 0.0


def _with_patients(data: Path, patients: list[str]) -> None:
    import json

    manifest = data / "manifest.jsonl"
    rows = [json.loads(x) for x in manifest.read_text().splitlines()]
    for i, row in enumerate(rows):
        row["provenance"]["ct_patient"] = patients[i % len(patients)]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


@pytest.mark.parametrize(("patients", "used"), [(["p1", "p2", "p3"], True), (["p1"], False)])
def test_an_encoder_stage_uses_the_adversary_only_with_two_or_more_patients(
    tmp_path: Path, capsys: pytest.CaptureFixture, patients: list[str], used: bool
) -> None:
    from medvlm.model import build_model, load_bundle
    from medvlm.ontology import load_ontology
    from medvlm.training.runner import TrainOptions, train
    from tests.medvlm.training.synthdata import build_dataset

    data = build_dataset(tmp_path / "data", n_train=24, n_validation=8)
    _with_patients(data, patients)
    curriculum = encoder_curriculum(tmp_path, 3, "patient_adversary: 1.0")
    train(TrainOptions(curriculum, data, tmp_path / "model", progress=False, register=False))
    said = "[encoder] patient_adversary not used: its films come from 1 CT patient(s)"
    assert (said in capsys.readouterr().out) is not used
    saved = load_bundle(tmp_path / "model").head.state_dict()  # the adversary is not saved with the model
    assert saved.keys() == build_model("micro", load_ontology(), seed=0).head.state_dict().keys()
