"""``evaluate_to_folder`` end to end with a real tiny model on a real manifest of DICOM files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from medvlm.dataset.manifest import split_hash
from medvlm.errors import ConfigError, NotFoundError
from medvlm.evaluation.run import evaluate_to_folder
from medvlm.settings import Settings

REPORT_KEYS = ("bleu4", "rouge_l", "chrf", "ce_f1", "hallucination_rate", "omission_rate")
# The model's own text (report.*), the guarded draft and the three baselines, scored the same way.
REQUIRED = ("findings.macro_auroc", "findings.macro_f1", "findings.per_finding", "findings.ece",
            "report.guard_changed", "report.prompt_f1", *(f"{prefix}.{key}" for prefix in (
                "report", "report.guarded", "baseline.normal", "baseline.retrieval", "baseline.template")
                for key in REPORT_KEYS))


def test_writes_metrics_and_report(tiny_model_dir: Path, dataset_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    summary = evaluate_to_folder(tiny_model_dir, dataset_dir, "test", out, None, progress=False)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(REQUIRED) <= set(metrics)
    assert metrics["n_studies"] == 4 and metrics["split"] == "test"
    per = metrics["findings.per_finding"]
    assert per["pleural_effusion"]["support"] == 1 and per["cardiomegaly"]["support"] == 1
    assert per["no_finding"]["support"] == 1 and per["consolidation"]["auroc"] is None  # no positive
    for key in REQUIRED:
        if key != "findings.per_finding":
            assert metrics[key] >= 0.0 and (metrics[key] <= 1.0 or key.endswith("hallucination_rate")), key
    assert metrics["report.prompt_additions"] >= 0.0 and "findings prompt" in summary
    assert metrics["report.per_finding"]["pleural_effusion"]["support"] == 1
    assert metrics["baseline.retrieval.pool"] >= 1
    assert "retrieval" in metrics["report.verdict"]
    # the normal report states no positive finding: nothing hallucinated, every truth positive omitted
    assert metrics["baseline.normal.hallucination_rate"] == 0
    assert metrics["baseline.normal.omission_rate"] == 1
    html = (out / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == len(list((out / "roc").glob("*.png"))) >= 4
    assert (out / "roc" / "pleural_effusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Small left pleural effusion." in html and "s3" in html  # example beside its reference
    assert "macro-AUROC" in summary and str(out / "metrics.json") in summary
    assert "own text (guard off)" in html and "baseline: nearest train report (retrieval)" in html
    assert summary.index("model's own text") < summary.index("after the guard") < summary.index("baseline")
    assert "verdict: " in summary
    assert "side of the findings called rightly" in summary and metrics["findings.side_pairs"] >= 0
    assert "findings.side_accuracy" in metrics and "findings.side_accuracy" in metrics["definitions"]
    assert "findings.side_accuracy" in html and "on the true side" in html
    assert metrics["data_split_sha256"] == split_hash(dataset_dir, "test")  # what `eval compare` pairs on
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and set(rows[0]["probabilities"]) == set(per)  # what `eval compare` reads
    drafts = [json.loads(line) for line in (out / "drafts.jsonl").read_text().splitlines()]
    assert [d["study_id"] for d in drafts] == [r["study_id"] for r in rows]
    assert {"own_findings", "findings_text", "repairs", "ref_findings", "truth"} <= set(drafts[0])
    def words(*parts: str) -> list[str]:
        return " ".join(parts).split()

    changed = [words(d["own_findings"], d["own_impression"]) != words(d["findings_text"], d["impression"])
               for d in drafts]
    assert metrics["report.guard_changed"] == pytest.approx(sum(changed) / len(drafts))
    causes = metrics["report.guard_changed_by"]  # each changed draft counts under one kind at least
    assert sum(causes.values()) >= metrics["report.guard_changed"] and bool(causes) == any(changed)
    assert ("by repair:" in summary) == bool(causes)


def test_findings_by_acquisition_subgroup(tiny_model_dir: Path, dataset_dir: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "eval"
    summary = evaluate_to_folder(tiny_model_dir, dataset_dir, "test", out, None, progress=False)
    assert json.loads((out / "metrics.json").read_text())["findings.by_subgroup"] == {}  # 2 + 2 studies
    assert "by subgroup" not in summary
    assert "By how the film was taken" not in (out / "report.html").read_text()
    monkeypatch.setattr("medvlm.evaluation.subgroups.MIN_STUDIES", 2)
    summary = evaluate_to_folder(tiny_model_dir, dataset_dir, "test", out, None, progress=False)
    by = json.loads((out / "metrics.json").read_text())["findings.by_subgroup"]
    assert {value: s["n"] for value, s in by["projection"].items()} == {"AP": 2, "PA": 2}
    assert "findings by subgroup" in summary and "  projection: AP " in summary
    assert "By how the film was taken" in (out / "report.html").read_text()


def test_limit_and_production_default(sqlite_settings: Settings, tiny_model_dir: Path, dataset_dir: Path,
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medvlm.registry import promote, register_version
    from tests.support.floors import allow_untrained_models

    allow_untrained_models(tmp_path, monkeypatch)  # an untrained model is below the real floors

    with pytest.raises(NotFoundError, match="no production model"):
        evaluate_to_folder(None, dataset_dir, "test", tmp_path / "a", 2, progress=False)
    promote(register_version(tiny_model_dir).id)
    evaluate_to_folder(None, dataset_dir, "test", tmp_path / "b", 2, progress=False)
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["n_studies"] == 2 and metrics["model_dir"] == str(tiny_model_dir.resolve())


@pytest.mark.parametrize(
    ("split", "limit", "data", "error", "message"),
    [
        ("holdout", None, "dataset", ConfigError, "unknown split 'holdout'"),
        ("validation", None, "dataset", NotFoundError, "no studies in split 'validation'"),
        ("test", 0, "dataset", ConfigError, "limit must be a positive"),
        ("test", None, "empty", NotFoundError, "no manifest.jsonl"),
    ],
)
def test_bad_requests_are_named(tiny_model_dir: Path, dataset_dir: Path, tmp_path: Path, split: str,
                                limit: int | None, data: str, error: type[Exception], message: str) -> None:
    directory = dataset_dir if data == "dataset" else tmp_path
    with pytest.raises(error, match=message):
        evaluate_to_folder(tiny_model_dir, directory, split, tmp_path / "out", limit, progress=False)


def test_cli_eval(tiny_model_dir: Path, dataset_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    env = {"MEDVLM_DATA_DIR": str(tmp_path / "data"), "MEDVLM_ENVIRONMENT": "test", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "medvlm", "eval", "--model", str(tiny_model_dir), "--data",
                             str(dataset_dir), "--split", "test", "--out", str(out), "--limit", "1"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "metrics.json").read_text())["n_studies"] == 1
    args = ["eval", "--model", str(tmp_path / "nope"), "--data", str(dataset_dir), "--out", str(out)]
    bad = subprocess.run([sys.executable, "-m", "medvlm", *args], capture_output=True, text=True, env=env,
                         timeout=300)
    assert bad.returncode == 1 and bad.stderr.strip().startswith("error: model directory")
