"""The corrections stage teaches the findings head (and its threshold) what clinicians corrected, not only
the language model: trained from a saved model (``--preset model:DIR``) on signed ORIGINAL/FINAL pairs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from medvlm.errors import CurriculumError
from medvlm.model import load_bundle
from medvlm.settings import Settings
from medvlm.training.retrain import RetrainOptions, retrain
from tests.medvlm.training.conftest import write_curriculum

CORRECTED = "pneumothorax"  # never drawn in the synthetic data: the base model says absent everywhere

STAGE = """
name: corrections_only
seed: 0
model: {{preset: micro}}
data:
  labels: {{split: train}}
  validation: {{split: validation}}
  corrections: {{kind: corrections, path: corrections, required: false}}
stages:
  - name: corrections
    kind: corrections
    sources: [corrections, labels]
    eval_source: validation
    modules: {modules}
    lora: {{r: 4, alpha: 8}}
{teach}
    steps: 14
    batch_size: 8
    lr: 3.0e-3
    max_answer_tokens: 48
    eval_every: 14
    eval_samples: 4
    eval_tasks: [findings, report]
    select_on: report.ce_f1
    augment: false
"""
TEACH = """    teach:
      findings: {replay_fraction: 0.5, weight: 1.0}
      text: {replay_fraction: 0.5}"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, synth_data: Path) -> tuple[Path, Path]:
    """A micro model after a short encoder stage, and a dataset whose corrections add a pneumothorax."""
    from medvlm.training.runner import TrainOptions, train

    root = tmp_path_factory.mktemp("corrections")
    data = root / "data"
    shutil.copytree(synth_data, data)
    torch.set_num_threads(1)
    # Every fifth film marked as rendered again for its finding (``--min-positives``): the replay pool
    # then carries a training prior the re-tuned floor must undo, as training's does.
    manifest = data / "manifest.jsonl"
    marked = [json.loads(x) for x in manifest.read_text().splitlines()]
    for i, line in enumerate(marked):
        labels = [f["label"] for f in line["findings"] if f["label"] != "no_finding"]
        if i % 5 == 0 and labels:
            line["provenance"] = {**(line.get("provenance") or {}), "oversampled_for": labels[0]}
    manifest.write_text("\n".join(json.dumps(x) for x in marked) + "\n")
    train(TrainOptions(write_curriculum(root, 4, False), data, root / "base", progress=False, register=False))
    lines = [json.loads(x) for x in (data / "manifest.jsonl").read_text().splitlines()[:12]]
    for line in lines:
        line["files"] = ["../" + f for f in line["files"]]
        line["report_source"] = "correction"
        line["provenance"] = {"original": {"findings": list(line["findings"])}}
        added = {"label": CORRECTED, "presence": "present", "laterality": "left"}
        line["findings"] = [*line["findings"], added]
    (data / "corrections").mkdir()
    (data / "corrections" / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    return root, data


def _retrain(root: Path, data: Path, name: str, modules: str, teach: str) -> Path:
    from medvlm.training.runner import TrainOptions, train

    curriculum = root / f"{name}.yaml"
    curriculum.write_text(STAGE.format(modules=modules, teach=teach))
    out = root / name
    preset = f"model:{root / 'base'}"
    train(TrainOptions(curriculum, data, out, preset=preset, progress=False, register=False))
    return out


def _corrected_probability(model_dir: Path, data: Path) -> float:
    from medvlm.training.images import load_image
    from medvlm.training.manifest import read_records
    from medvlm.training.stage_metrics import findings_probabilities

    bundle = load_bundle(model_dir)
    records = read_records(data / "corrections")
    images = torch.stack([load_image(r.files[0], bundle.image_size) for r in records])
    return float(findings_probabilities(bundle, images)[:, bundle.names.index(CORRECTED)].mean())


def test_corrections_train_the_findings_head_and_threshold(base: tuple[Path, Path]) -> None:
    root, data = base
    out = _retrain(root, data, "taught", "{findings_head: full, language: lora}", TEACH)
    before, after = _corrected_probability(root / "base", data), _corrected_probability(out, data)
    assert after > before + 0.2, (before, after)  # moved toward the clinicians' "present"
    card = json.loads((out / "model_card.json").read_text())
    stage = card["stages"][-1]
    assert set(stage["thresholds_retuned"]) == {CORRECTED}
    assert stage["threshold_prior_shifts"]  # the replayed films' oversampling, undone in the floor
    assert load_bundle(out).config.threshold(CORRECTED) == stage["thresholds_retuned"][CORRECTED]["after"]
    assert card["parent"] == json.loads((root / "base" / "model_card.json").read_text())["version"]
    # familiarity in the retrained tower's features: the base's is dropped at the start, refitted at the end
    assert load_bundle(root / "base").embedding_novelty is not None
    assert load_bundle(out / "training" / "init").embedding_novelty is None
    refitted = load_bundle(out).embedding_novelty
    assert refitted is not None and card["familiarity"]["embedding_dims"] == refitted.mean.numel()


def test_text_only_corrections_leave_the_head_alone(base: tuple[Path, Path]) -> None:
    """The older form (LoRA only): the head and thresholds are exactly the base model's."""
    root, data = base
    out = _retrain(root, data, "text_only", "{language: lora}", "")
    assert _corrected_probability(out, data) == pytest.approx(_corrected_probability(root / "base", data))
    assert load_bundle(out).config.thresholds == load_bundle(root / "base").config.thresholds


@pytest.mark.parametrize(
    ("modules", "teach", "message"),
    [
        ("{findings_head: full, language: lora}", "", "findings_head trains only with teach.findings"),
        ("{language: lora}", TEACH, "teach.findings needs modules.findings_head: full"),
        ("{findings_head: full}", TEACH, "teach.text needs a trainable language"),
        ("{findings_head: full, language: lora}", TEACH + "\n    replay_fraction: 0.3", "not on the stage"),
        ("{findings_head: full}", "    teach: {findings: {replay_fraction: 1.0}}", "less than 1"),
    ],
)
def test_teach_is_checked_with_clear_errors(tmp_path: Path, modules: str, teach: str, message: str) -> None:
    from medvlm.curriculum import load_curriculum

    path = tmp_path / "c.yaml"
    path.write_text(STAGE.format(modules=modules, teach=teach))
    with pytest.raises(CurriculumError, match=message):
        load_curriculum(path)


def _retrain_options(root: Path, data: Path, name: str, tolerance: float) -> RetrainOptions:
    curriculum = root / "retrain.yaml"  # one file: the two runs train the same (deterministic) version
    curriculum.write_text(STAGE.format(modules="{findings_head: full, language: lora}", teach=TEACH))
    return RetrainOptions(data, root / name, actor="test:researcher", curriculum=curriculum, promote=True,
                          tolerance=tolerance, progress=False)


def _actions(run_id: str) -> list[str]:
    from sqlmodel import select

    from medvlm.compliance.audit import AuditEvent
    from medvlm.db import session_scope
    from medvlm.registry.registry import ready_engine

    with session_scope(ready_engine()) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.resource_id == run_id)).all()
        return sorted(r.action for r in rows)


def test_retrain_promotes_only_through_the_gate(
    base: tuple[Path, Path], sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From production: a candidate the gate refuses leaves production as it was; one it accepts replaces it.
    Each step is in the audit trail. (The untrained models pass a site floors policy; the real floors are
    tested in tests/medvlm/registry.)"""
    from sqlmodel import select

    from tests.support.floors import allow_untrained_models

    allow_untrained_models(tmp_path, monkeypatch)

    from medvlm.db import session_scope
    from medvlm.registry import production_version, promote, register_version
    from medvlm.registry.registry import ready_engine
    from medvlm.registry.tables import ModelVersion

    root, data = base
    production = register_version(root / "base").id
    promote(production)
    with session_scope(ready_engine()) as session:  # a production model no retraining can match
        row = session.exec(select(ModelVersion).where(ModelVersion.id == production)).one()
        row.metrics = {**row.metrics, "findings.macro_auroc": 1.5}
        session.add(row)
    refused = retrain(_retrain_options(root, data, "refused", tolerance=0.0))
    assert refused.refused and "findings.macro_auroc" in refused.refused and not refused.promoted
    assert production_version().id == production  # type: ignore[union-attr]
    assert refused.base_version == production
    assert _actions(refused.run_id) == ["retrain.refused", "retrain.started", "retrain.trained"]

    accepted = retrain(_retrain_options(root, data, "accepted", tolerance=1.0))
    assert accepted.promoted and production_version().id == accepted.candidate_id  # type: ignore[union-attr]
    assert _actions(accepted.run_id) == ["retrain.promoted", "retrain.started", "retrain.trained"]


def test_retrain_without_a_model_says_so(tmp_path: Path, sqlite_settings: Settings) -> None:
    from medvlm.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no production model"):
        retrain(RetrainOptions(tmp_path, tmp_path / "out", actor="test", progress=False))
