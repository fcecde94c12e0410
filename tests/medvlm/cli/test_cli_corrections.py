"""``medvlm corrections export`` through the real entry point: one readable line and exit 1 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDVLM_DATA_DIR": str(data_dir), "MEDVLM_DATABASE_URL": ""}
    return subprocess.run([sys.executable, "-m", "medvlm", "corrections", "export", *args],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (None, "cannot read the key file"),
        (b"short", "key"),
    ],
)
def test_bad_key_is_one_line_exit_1(tmp_path: Path, key: bytes | None, expected: str) -> None:
    key_file = tmp_path / "key"
    if key is not None:
        key_file.write_bytes(key)
    result = _run([str(tmp_path / "out"), "--key-file", str(key_file)], tmp_path / "data")
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0]
    assert not (tmp_path / "out").exists()


def test_exports_an_empty_dataset_when_nothing_is_signed(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(b"k" * 32)
    result = _run([str(tmp_path / "out"), "--key-file", str(key_file)], tmp_path / "data")
    assert result.returncode == 0, result.stderr
    manifest = tmp_path / "out" / "manifest.jsonl"
    assert manifest.exists() and [json.loads(line) for line in manifest.read_text().splitlines()] == []


def test_missing_key_option_is_a_usage_error(tmp_path: Path) -> None:
    assert _run([str(tmp_path / "out")], tmp_path / "data").returncode == 2


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        (None, "no production model in the registry"),
        ("empty", "has no model_card.json"),
    ],
)
def test_retrain_without_a_usable_base_is_one_line_exit_1(tmp_path: Path, base: str | None,
                                                          expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MEDVLM_MODEL_DIR"}
    env.update({"MEDVLM_DATA_DIR": str(tmp_path / "var"), "MEDVLM_DATABASE_URL": ""})
    args = ["--data", str(tmp_path), "--out", str(tmp_path / "out"), "--no-progress"]
    if base:
        (tmp_path / base).mkdir()
        args += ["--base", str(tmp_path / base)]
    result = subprocess.run([sys.executable, "-m", "medvlm", "corrections", "retrain", *args],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], result.stderr
    assert not (tmp_path / "out").exists()
