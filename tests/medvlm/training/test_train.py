"""End to end at CI size: `medvlm train` runs every stage, learns findings (macro-AUROC >= 0.85), writes the
bundle, card, curve and registers the version; bad input is one line and exit 1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from medvlm.cli.main import app
from medvlm.findings import Presence
from medvlm.model import load_bundle
from tests.medvlm.training.conftest import write_curriculum


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, synth_data: Path) -> tuple[Path, Path]:
    """One CI-size run of all four stages (corrections included: the data has a corrections set)."""
    from medvlm.training.runner import TrainOptions, train

    root = tmp_path_factory.mktemp("train")
    data = root / "data"
    shutil.copytree(synth_data, data)
    (data / "corrections").mkdir()
    lines = [json.loads(x) for x in (data / "manifest.jsonl").read_text().splitlines()[:6]]
    for line in lines:
        line["files"] = ["../" + f for f in line["files"]]
    (data / "corrections" / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    curriculum = write_curriculum(root, encoder_steps=90, text_stages=True)
    torch.set_num_threads(1)
    out = root / "model"
    train(TrainOptions(curriculum, data, out, progress=False, register=False))
    return out, data


def test_ci_size_run_learns_findings(trained: tuple[Path, Path]) -> None:
    out, _ = trained
    card = json.loads((out / "model_card.json").read_text())
    assert card["metrics"]["findings.macro_auroc"] >= 0.85
    assert [s["name"] for s in card["stages"]] == ["encoder", "introduction", "specialism", "corrections"]
    for key in ("version", "curriculum_sha256", "data_manifest_sha256", "created_at", "preset"):
        assert card[key]
    assert "report.ce_f1" in card["metrics"] and "qa.accuracy" in card["metrics"]
    specialism = next(s for s in card["stages"] if s["name"] == "specialism")
    assert specialism["select_on"] == "report.prompt_f1"  # the text against its own findings prompt
    assert 0.0 <= specialism["metrics"]["report.prompt_f1"] <= 1.0
    assert specialism["metrics"]["report.prompt_additions"] >= 0.0
    # per finding too, so that the promotion gate sees one finding lost behind a steady macro mean
    per_finding = {k for k in card["metrics"] if k.startswith("findings.auroc.")}
    assert per_finding and all(k.replace("auroc", "positives") in card["metrics"] for k in per_finding)
    assert (out / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for stage in ("encoder", "introduction", "specialism", "corrections"):
        assert (out / "training" / stage / "best.pt").is_file()


def test_trained_bundle_predicts_and_drafts(trained: tuple[Path, Path]) -> None:
    out, data = trained
    from medvlm.training.images import load_image
    from medvlm.training.manifest import read_records

    bundle = load_bundle(out)
    records = [r for r in read_records(data) if r.split == "validation"][:2]
    images = torch.stack([load_image(r.files[0], bundle.image_size) for r in records])
    findings = bundle.predict_findings(images)
    assert all(len(row) == len(bundle.names) for row in findings)
    assert any(f.presence == Presence.PRESENT for row in findings for f in row)
    drafts = bundle.generate_report(images, findings, max_new_tokens=16)
    assert len(drafts) == 2
    # the training films' familiarity fit travels with the model (the worklist's uncertainty order)
    card = json.loads((out / "model_card.json").read_text())
    assert card["familiarity"]["films"] >= 20 and bundle.novelty is not None
    assert bundle.embedding_novelty is not None and card["familiarity"]["embedding_dims"] > 0
    familiarity = bundle.familiarity(images)
    assert familiarity is not None and all(0 < v <= 1 for v in familiarity)


def test_fit_familiarity_refits_a_saved_model_on_its_own_training_films(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    """A model saved before the feature-space fit gets it from `medvlm models fit-familiarity`, fitted on
    the films its curriculum trained on (as training fits it); other data is refused in one line."""
    from medvlm.model.embedding_novelty import EMBEDDING_NOVELTY_FILE

    out, data = trained
    model = tmp_path / "model"
    shutil.copytree(out, model, ignore=shutil.ignore_patterns("training"))
    (model / EMBEDDING_NOVELTY_FILE).unlink()
    kept = [p for p in model.iterdir() if p.is_file() and p.name != "novelty.safetensors"]
    before = {p.name: p.read_bytes() for p in kept}
    assert load_bundle(model).embedding_novelty is None
    result = CliRunner().invoke(app, ["models", "fit-familiarity", str(model), "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert "familiarity fitted on" in result.output and EMBEDDING_NOVELTY_FILE in result.output
    refitted, original = load_bundle(model), load_bundle(out)
    assert refitted.version == original.version  # weights, version and card untouched
    assert {p.name: p.read_bytes() for p in model.iterdir() if p.is_file() and p.name in before} == before
    assert refitted.embedding_novelty is not None and original.embedding_novelty is not None
    assert torch.allclose(refitted.embedding_novelty.mean, original.embedding_novelty.mean, atol=1e-4)
    assert torch.allclose(refitted.novelty.mean, original.novelty.mean)

    other = tmp_path / "other"
    shutil.copytree(data, other)
    lines = (other / "manifest.jsonl").read_text().splitlines()
    (other / "manifest.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    import subprocess
    import sys

    refused = subprocess.run([sys.executable, "-m", "medvlm", "models", "fit-familiarity", str(model),
                              "--data", str(other)], capture_output=True, text=True, timeout=120)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: ")
    assert "is not the data" in lines[0]
    assert {p.name: p.read_bytes() for p in model.iterdir() if p.is_file() and p.name in before} == before


def test_existing_run_needs_resume(trained: tuple[Path, Path], tmp_path: Path) -> None:
    out, data = trained
    from medvlm.errors import ConfigError
    from medvlm.training.runner import TrainOptions, train

    curriculum = write_curriculum(tmp_path, encoder_steps=90, text_stages=True)
    with pytest.raises(ConfigError, match="already holds a training run; pass --resume"):
        train(TrainOptions(curriculum, data, out, progress=False, register=False))


def test_cli_trains_and_registers(sqlite_settings, synth_data: Path, tmp_path: Path) -> None:
    from medvlm.registry import list_versions

    curriculum = write_curriculum(tmp_path, encoder_steps=4, text_stages=False)
    out = tmp_path / "model"
    result = CliRunner().invoke(
        app, ["train", str(curriculum), "--data", str(synth_data), "--out", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    version = json.loads((out / "model_card.json").read_text())["version"]
    assert version in [v.id for v in list_versions()]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("sources: [labels]", "sources: [missing_source]"),
            "names data source 'missing_source'",
        ),
        (lambda t: t.replace("lr: 4.0e-3", "lr: -1"), "stages.0.lr"),
        (lambda t: t + "\nextra_key: 1\n", "unknown key at extra_key"),
    ],
)
def test_cli_bad_curriculum_is_one_line_exit_1(synth_data: Path, tmp_path: Path, edit, message: str) -> None:
    import subprocess
    import sys

    curriculum = write_curriculum(tmp_path, encoder_steps=4, text_stages=False)
    curriculum.write_text(edit(curriculum.read_text()))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "medvlm",
            "train",
            str(curriculum),
            "--data",
            str(synth_data),
            "--out",
            str(tmp_path / "m"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "m").exists()  # nothing trained, nothing written
