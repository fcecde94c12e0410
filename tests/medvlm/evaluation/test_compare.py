"""`medvlm eval compare`: two evaluations of the same studies, compared by a paired bootstrap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medvlm.errors import ConfigError, NotFoundError
from medvlm.evaluation.compare import compare_runs, format_comparison

NAMES = ("no_finding", "cardiomegaly", "pleural_effusion")


def _run(folder: Path, truth: np.ndarray, probs: np.ndarray, version: str, manifest: str = "m1",
         split_sha: str | None = None) -> Path:
    """An eval folder as `medvlm eval` writes it (the two files compare reads); ``split_sha`` None: as an
    evaluation written before the split's own hash was kept."""
    folder.mkdir(parents=True)
    metrics = {"model_version": version, "split": "test", "data_manifest_sha256": manifest}
    (folder / "metrics.json").write_text(json.dumps(
        metrics if split_sha is None else {**metrics, "data_split_sha256": split_sha}))
    lines = []
    for i, (t, p) in enumerate(zip(truth, probs, strict=True)):
        found = [{"label": n, "presence": "present"} for n, v in zip(NAMES[1:], t, strict=True) if v]
        lines.append(json.dumps({"study_id": f"s{i}", "truth": found,
                                 "probabilities": dict(zip(NAMES, map(float, p), strict=True))}))
    (folder / "predictions.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture()
def studies() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, (400, 2))
    chance = rng.uniform(0, 1, (400, 3))
    reads = chance.copy()
    reads[:, 1:] = np.clip(0.35 * truth + 0.65 * rng.uniform(0, 1, (400, 2)), 0, 1)  # reads both findings
    reads[:, 0] = 1 - reads[:, 1:].max(axis=1)
    return truth, chance, reads


def test_a_model_that_reads_the_films_is_told_apart_from_chance(tmp_path: Path, studies) -> None:
    truth, chance, reads = studies
    a = _run(tmp_path / "a", truth, chance, "chance")
    b = _run(tmp_path / "b", truth, reads, "reads")
    c = compare_runs(a, b)
    assert c["n_studies"] == 400 and set(c["per_finding"]) == set(NAMES)
    lo, hi = c["macro"]["interval"]
    assert 0 < lo <= c["macro"]["difference"] <= hi
    assert c["per_finding"]["cardiomegaly"]["positives"] == int(truth[:, 0].sum())
    text = format_comparison(c)
    assert "B better" in text.splitlines()[-1] and "chance vs B reads" in text
    few = _run(tmp_path / "few", truth[:12], reads[:12], "few")  # a handful of positives: not called
    text = format_comparison(compare_runs(_run(tmp_path / "few-a", truth[:12], chance[:12], "c"), few))
    assert "too few positives to tell" in text and "B better" not in text.splitlines()[2]
    # the same model against itself: no difference, and the comparison says so
    same = compare_runs(a, a)
    assert same["macro"]["difference"] == 0 and same["macro"]["interval"] == (0.0, 0.0)
    assert "no evidence of a difference" in format_comparison(same).splitlines()[-1]


def test_two_small_noisy_runs_are_no_evidence(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 2, (30, 2))
    a = _run(tmp_path / "a", truth, rng.uniform(0, 1, (30, 3)), "one")
    b = _run(tmp_path / "b", truth, rng.uniform(0, 1, (30, 3)), "two")
    lo, hi = compare_runs(a, b)["macro"]["interval"]
    assert lo < 0 < hi


def test_runs_of_different_studies_are_refused(tmp_path: Path, studies) -> None:
    truth, chance, reads = studies
    a = _run(tmp_path / "a", truth, chance, "x")
    with pytest.raises(ConfigError, match="differ in data_manifest_sha256"):
        compare_runs(a, _run(tmp_path / "b", truth, reads, "y", manifest="m2"))
    # builds that differ only in other splits: the split's own films pair, another split's do not
    same = compare_runs(_run(tmp_path / "c", truth, chance, "x", "m1", "t1"),
                        _run(tmp_path / "d", truth, reads, "y", "m2", "t1"))
    assert same["macro"]["difference"] > 0
    with pytest.raises(ConfigError, match="differ in data_split_sha256"):
        compare_runs(_run(tmp_path / "e", truth, chance, "x", "m1", "t1"),
                     _run(tmp_path / "f", truth, reads, "y", "m1", "t2"))
    with pytest.raises(NotFoundError, match=r"nowhere/metrics\.json does not exist"):
        compare_runs(a, tmp_path / "nowhere")
    (a / "predictions.jsonl").unlink()  # an evaluation written before predictions were kept
    with pytest.raises(NotFoundError, match=r"a/predictions\.jsonl does not exist"):
        compare_runs(a, a)


def test_cli_compare(tmp_path: Path, studies) -> None:
    truth, chance, reads = studies
    a, b = _run(tmp_path / "a", truth, chance, "x"), _run(tmp_path / "b", truth, reads, "y")
    env = {"MEDVLM_DATA_DIR": str(tmp_path / "data"), "MEDVLM_ENVIRONMENT": "test", "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([sys.executable, "-m", "medvlm", "eval", "compare", str(a), str(b), "--json",
                         str(tmp_path / "c.json")], capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "macro" in ok.stdout and json.loads((tmp_path / "c.json").read_text())["n_studies"] == 400
    bad = subprocess.run([sys.executable, "-m", "medvlm", "eval", "compare", str(a), str(tmp_path / "no")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and len(bad.stderr.splitlines()) == 1


def test_supported_macro_leaves_out_a_finding_with_three_positives(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    truth = np.zeros((400, 2), dtype=int)
    truth[:, 0] = rng.integers(0, 2, 400)
    truth[:3, 1] = 1  # three effusions
    chance = rng.uniform(0, 1, (400, 3))
    lucky = chance.copy()
    lucky[:, 2] = np.where(truth[:, 1] == 1, 0.99, lucky[:, 2] * 0.9)  # B ranks the three effusions first
    c = compare_runs(_run(tmp_path / "a", truth, chance, "a"), _run(tmp_path / "b", truth, lucky, "b"))
    assert c["macro"]["difference"] > 0.05  # the plain macro moves on three studies
    supported = c["macro_supported"]
    assert supported["findings"] == 2 and supported["difference"] == 0 and supported["interval"] == (0.0, 0.0)
    last = format_comparison(c).splitlines()[-1]
    assert last.startswith("macro, 2 with >=10") and "no evidence of a difference" in last
