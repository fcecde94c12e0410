"""Shared pieces of the training tests: a synthetic dataset and a CI-size curriculum on the micro preset."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.medvlm.training.synthdata import build_dataset

ROOT = Path(__file__).resolve().parents[3]

CI_CURRICULUM = """
name: ci
seed: 0
model: {{preset: micro}}
data:
  labels: {{split: train}}
  validation: {{split: validation}}
  corrections: {{kind: corrections, path: corrections, required: false}}
stages:
  - name: encoder
    kind: encoder
    sources: [labels]
    eval_source: validation
    modules: {{vision: full, findings_head: full}}
    steps: {encoder_steps}
    batch_size: 24
    lr: 4.0e-3
    warmup_steps: 2
    eval_every: {encoder_steps}
    checkpoint_every: 5
    localize: 1.0
    eval_tasks: [findings]
    select_on: findings.macro_auroc
{extra}
"""

TEXT_STAGES = """
  - name: introduction
    kind: introduction
    sources: [labels]
    eval_source: validation
    templates: templates/questions.yaml
    modules: {projector: full, language: full}
    steps: 8
    batch_size: 8
    lr: 3.0e-3
    max_answer_tokens: 4
    eval_every: 8
    eval_samples: 8
    eval_tasks: [qa]
    select_on: qa.accuracy
  - name: specialism
    kind: specialism
    sources: [labels]
    eval_source: validation
    modules: {projector: full, language: full}
    steps: 8
    batch_size: 8
    lr: 3.0e-3
    max_answer_tokens: 48
    eval_every: 8
    eval_samples: 4
    eval_tasks: [report, loss]
    select_on: report.prompt_f1
  - name: corrections
    kind: corrections
    sources: [corrections, labels]
    eval_source: validation
    modules: {language: lora}
    lora: {r: 4, alpha: 8}
    steps: 4
    batch_size: 4
    lr: 1.0e-3
    max_answer_tokens: 48
    eval_every: 4
    eval_samples: 4
    eval_tasks: [report]
    select_on: report.ce_f1
"""


def write_curriculum(directory: Path, encoder_steps: int, text_stages: bool) -> Path:
    (directory / "templates").mkdir(parents=True, exist_ok=True)
    shutil.copy(
        ROOT / "curricula" / "templates" / "questions.yaml", directory / "templates" / "questions.yaml"
    )
    path = directory / "ci.yaml"
    extra = TEXT_STAGES if text_stages else ""
    path.write_text(CI_CURRICULUM.format(encoder_steps=encoder_steps, extra=extra))
    return path


def encoder_curriculum(directory: Path, encoder_steps: int, term: str) -> Path:
    """The CI curriculum's encoder stage alone, with the auxiliary ``term`` (e.g. "measures: 1.0") in place
    of its localize term."""
    path = write_curriculum(directory, encoder_steps=encoder_steps, text_stages=False)
    path.write_text(path.read_text().replace("    localize: 1.0\n", f"    {term}\n"))
    return path


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("synth"), n_train=96, n_validation=48)


def subprocess_env(tmp_path: Path) -> dict[str, str]:
    """Child processes: one thread each (deterministic, and kind to the shared CPU), private registry DB."""
    env = dict(os.environ)
    env.update(
        {
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONPATH": str(ROOT),
            "MEDVLM_DATA_DIR": str(tmp_path / "var"),
            "MEDVLM_DATABASE_URL": f"sqlite:///{tmp_path / 'reg.db'}",
            "MEDVLM_ENVIRONMENT": "test",
        }
    )
    return env


PYTHON = sys.executable
