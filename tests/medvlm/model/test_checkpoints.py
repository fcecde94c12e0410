"""#25: a tiny random-weight checkpoint of each supported architecture, saved with save_pretrained (processor,
chat template and a locally trained tokenizer beside it), goes through ``path:`` -> two curriculum stages
(findings head; LoRA on the language model) -> draft -> evaluate -> registry. Nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from medvlm.model.tiny_checkpoints import ARCHITECTURES, save_checkpoint

CURRICULUM = """
name: checkpoint_{arch}
seed: 0
data:
  reports: {{split: train}}
  validation: {{split: validation}}
stages:
  - name: encoder
    kind: encoder
    sources: [reports]
    eval_source: validation
    modules: {{findings_head: full}}
    steps: 2
    batch_size: 4
    lr: 1.0e-3
    eval_every: 2
    eval_samples: 4
    checkpoint_every: 2
    augment: false
    eval_tasks: [findings]
    select_on: findings.macro_auroc
  - name: specialism
    kind: specialism
    sources: [reports]
    eval_source: validation
    modules: {{language: lora}}
    lora: {{r: 2, alpha: 4}}
    steps: 2
    batch_size: 4
    grad_accumulation: 2
    lr: 5.0e-3
    max_answer_tokens: 12
    eval_every: 2
    eval_samples: 2
    checkpoint_every: 2
    augment: false
    eval_tasks: [loss]
    select_on: loss
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.medvlm.training.synthdata import build_dataset

    return build_dataset(tmp_path_factory.mktemp("ckpt-data"), n_train=8, n_validation=4)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_train_draft_evaluate_register(
    arch: str, data: Path, tmp_path: Path, sqlite_settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from medvlm.evaluation.run import evaluate_to_folder
    from medvlm.inference.draft import draft_study
    from medvlm.model import load_bundle
    from medvlm.registry import register_version
    from medvlm.training.runner import TrainOptions, train

    checkpoint = save_checkpoint(arch, tmp_path / arch)
    (tmp_path / "c.yaml").write_text(CURRICULUM.format(arch=arch))
    out = tmp_path / "model"
    train(
        TrainOptions(
            tmp_path / "c.yaml", data, out, preset=f"path:{checkpoint}", progress=False, register=False
        )
    )
    printed = capsys.readouterr().out
    assert "[specialism]" in printed and "examples/s" in printed and "MiB" in printed

    bundle = load_bundle(out)
    assert bundle.config.prompt_format == "chat" and bundle.config.architecture == arch
    assert (out / "processor" / "processor_config.json").is_file()
    stages = json.loads((out / "training" / "history.json").read_text())
    assert [s["name"] for s in stages] == ["encoder", "specialism"]
    assert stages[1]["throughput"]["grad_accumulation"] == 2
    base = load_bundle(out / "training" / "init")
    changed = [
        n
        for n, p in bundle.model.named_parameters()
        if not torch.equal(p, dict(base.model.named_parameters())[n])
    ]
    assert changed and all(
        ".lm_head" in f".{n}" or "language_model" in n or "text_model" in n for n in changed
    )  # LoRA merged into the language model only

    film = sorted((data / "dicom").rglob("*.dcm"))[0]
    result = draft_study(bundle, film, max_new_tokens=6)
    assert [f.label for f in result.findings] == bundle.names
    assert result.model_version == bundle.version

    evaluate_to_folder(out, data, "validation", tmp_path / "eval", limit=2, progress=False)
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert "report.ce_f1" in json.dumps(metrics)
    registered = register_version(out)
    assert registered.id == bundle.version and registered.status == "candidate"
    assert registered.preset == f"path:{checkpoint}"
