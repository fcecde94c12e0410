"""Labeler evaluation: scoring arithmetic, refusal of the test buckets, the table, and the real IU figure."""

from __future__ import annotations

import subprocess
import sys

import pytest

from medvlm.errors import ConfigError
from medvlm.labeler.mesh_agreement import format_table, run_labeler_eval, score


def test_score_counts_per_label_and_macro_over_frequent_labels() -> None:
    pairs = [({"a"}, {"a"}), ({"a"}, set()), (set(), {"a"}), ({"a", "b"}, {"a", "b"}), (set(), set())]
    result = score(pairs, ["a", "b"], min_examples=2)
    a = result["per_finding"]["a"]
    assert (a["tp"], a["fp"], a["fn"], a["support"]) == (2, 1, 1, 3)
    assert a["precision"] == pytest.approx(2 / 3) and a["recall"] == pytest.approx(2 / 3)
    assert result["per_finding"]["b"]["f1"] == 1.0
    assert result["macro_over"] == ["a"]  # b has one example only
    assert result["macro_f1"] == pytest.approx(2 / 3)
    assert result["n_reports"] == 5


@pytest.mark.parametrize(
    ("splits", "min_examples", "message"),
    [
        (("train", "test"), 30, "held out"),
        (("dev",), 30, "unknown IU split 'dev'"),
        ((), 30, "unknown IU split"),
        (("validation",), 0, "min_examples must be at least 1"),
    ],
)
def test_bad_arguments_are_refused(splits: tuple[str, ...], min_examples: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_labeler_eval(splits=splits, min_examples=min_examples, progress=False)


def test_validation_bucket_meets_the_target_and_the_table_lists_every_finding() -> None:
    result = run_labeler_eval(splits=("validation",), min_examples=10, progress=False)
    assert result["n_reports"] > 350
    assert result["macro_f1"] >= 0.85, format_table(result)
    table = format_table(result)
    for name in result["per_finding"]:
        assert name in table
    assert "macro F1 over" in table
    for attribute in ("laterality", "severity"):
        assert result["attributes"][attribute]["n"] > 20
        assert result["attributes"][attribute]["agreement"] >= 0.85
        assert f"{attribute} agreement" in table


def test_cli_prints_the_table_and_refuses_the_test_split() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "medvlm", "eval", "labeler", "--splits", "validation"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "cardiomegaly" in ok.stdout and "macro F1" in ok.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "medvlm", "eval", "labeler", "--splits", "test"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1
    assert "held out" in refused.stderr
