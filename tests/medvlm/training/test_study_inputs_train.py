"""Two stages on a tiny dataset whose studies have laterals and indications, then drafting with them.

The laterals are made here (the dataset builder draws them in another change): a copy of each built film's
DICOM with ViewPosition LL, written beside it. Some records name their views in the manifest, the others
are told apart by ViewPosition; every third study has no lateral."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
import torch
from pydicom.uid import generate_uid

from medvlm.training.manifest import read_records
from tests.medvlm.training.synthdata import build_dataset

CURRICULUM = """
name: study_inputs
seed: 0
model: {preset: micro}
data:
  labels: {split: train}
  validation: {split: validation}
stages:
  - name: encoder
    kind: encoder
    sources: [labels]
    eval_source: validation
    inputs: [frontal, lateral]
    modules: {vision: full, findings_head: full}
    steps: 4
    batch_size: 8
    lr: 4.0e-3
    eval_every: 4
    checkpoint_every: 4
    eval_tasks: [findings]
    select_on: findings.macro_auroc
  - name: specialism
    kind: specialism
    sources: [labels]
    eval_source: validation
    inputs: [frontal, lateral, indication]
    modules: {projector: full, language: full}
    steps: 4
    batch_size: 4
    lr: 3.0e-3
    max_answer_tokens: 24
    eval_every: 4
    eval_samples: 4
    checkpoint_every: 4
    eval_tasks: [report, loss]
    select_on: report.ce_f1
"""
INDICATIONS = ["Cough and fever", "Shortness of breath", ""]


def add_laterals(data: Path) -> Path:
    """Give every study but each third a lateral (ViewPosition LL) and an indication; frontals say PA."""
    lines = []
    for i, line in enumerate((data / "manifest.jsonl").read_text().splitlines()):
        record = json.loads(line)
        frontal = data / record["files"][0]
        ds = pydicom.dcmread(frontal)
        ds.ViewPosition = "PA"
        ds.save_as(frontal, enforce_file_format=True)
        record["indication"] = INDICATIONS[i % 3]
        if i % 3 == 2:
            lines.append(json.dumps(record))
            continue
        ds.ViewPosition = "LL"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        lateral = frontal.with_name(f"{ds.SOPInstanceUID}.dcm")
        ds.save_as(lateral, enforce_file_format=True)
        rel = str(lateral.relative_to(data))
        if i % 2:  # lateral listed first; the manifest's views say which is which
            record["files"], record["views"] = [rel, record["files"][0]], ["lateral", "frontal"]
        else:  # no views: ViewPosition decides
            record["files"] = [record["files"][0], rel]
        lines.append(json.dumps(record))
    (data / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return data


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from medvlm.training.runner import TrainOptions, train

    root = tmp_path_factory.mktemp("study-inputs")
    data = add_laterals(build_dataset(root / "data", n_train=24, n_validation=8))
    curriculum = root / "c.yaml"
    curriculum.write_text(CURRICULUM)
    torch.set_num_threads(1)
    out = train(TrainOptions(curriculum, data, root / "model", progress=False, register=False))
    return data, out


def test_records_have_their_frontal_first_and_their_lateral(trained: tuple[Path, Path]) -> None:
    data, _ = trained
    records = read_records(data)
    for i, r in enumerate(records):
        assert pydicom.dcmread(r.files[0], stop_before_pixels=True).ViewPosition == "PA"
        if i % 3 == 2:
            assert r.lateral is None
        else:
            assert r.lateral is not None
            assert pydicom.dcmread(r.lateral, stop_before_pixels=True).ViewPosition == "LL"
        assert r.indication == INDICATIONS[i % 3]


def test_the_model_records_its_inputs(trained: tuple[Path, Path]) -> None:
    from medvlm.model import load_bundle

    data, out = trained
    bundle = load_bundle(out)
    assert bundle.config.inputs == ["frontal", "lateral", "indication"]
    card = json.loads((out / "model_card.json").read_text())
    assert card["config"]["inputs"] == ["frontal", "lateral", "indication"]
    assert bundle.views is not None and bundle.head.lateral is not None
    assert float(bundle.head.lateral.weight.detach().abs().sum()) > 0  # the encoder trained it
    # the encoder read laterals: its image cache holds the frontal and lateral films
    cache = next((out / "training" / "cache").glob("images_*.pt"))
    records = read_records(data)
    assert torch.load(cache).shape[0] == len(records) + sum(r.lateral is not None for r in records) == 32 + 22


def test_drafting_reads_the_lateral_and_the_indication(trained: tuple[Path, Path]) -> None:
    from medvlm.inference import draft_study
    from medvlm.model import load_bundle

    data, out = trained
    bundle = load_bundle(out)
    record = next(r for r in read_records(data) if r.lateral is not None and r.split == "validation")
    frontal = pydicom.dcmread(record.files[0])
    frontal.ReasonForTheRequestedProcedure = "Chest pain, per Dr. John Smith"
    study = out.parent / "study"
    study.mkdir()
    frontal.save_as(study / "frontal.dcm", enforce_file_format=True)
    shutil.copy(record.lateral, study / "lateral.dcm")

    both = draft_study(bundle, [str(study)], guard="flag")
    assert both.lateral_source == str(study / "lateral.dcm") and len(both.input_hashes) == 2
    assert both.indication == "Chest pain, per Dr. [NAME]"
    alone = draft_study(bundle, [str(study / "frontal.dcm")], guard="flag")
    assert alone.lateral_source is None and len(alone.input_hashes) == 1
    given = draft_study(bundle, [str(study)], guard="flag", indications=["Fever"])
    assert given.indication == "Fever"

    env = {"PATH": "/usr/bin:/bin", "MEDVLM_ENVIRONMENT": "test", "OMP_NUM_THREADS": "1",
           "MEDVLM_DATA_DIR": str(out.parent / "var"), "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    cli = subprocess.run(
        [sys.executable, "-m", "medvlm", "draft", str(study), "--model", str(out), "--json", "--force",
         "--indication", "Dyspnea"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    result = json.loads(cli.stdout)
    assert result["lateral"] == str(study / "lateral.dcm") and result["indication"] == "Dyspnea"
    assert len(result["input_hashes"]) == 2
