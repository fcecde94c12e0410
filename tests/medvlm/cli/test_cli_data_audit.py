"""``medvlm data audit`` and the new ``data build`` options from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medvlm.cli.main import app
from medvlm.dataset.builder import build_dataset
from medvlm.dataset.ct_patients import DEFAULT_HOLDOUT, DefaultPatient
from tests.medvlm.synth.atlas_fixtures import atlas, atlas_dir  # noqa: F401  (session fixtures)


@pytest.fixture(scope="module")
def built(atlas, atlas_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("ds")
    patients = [DefaultPatient("a"), DefaultPatient(DEFAULT_HOLDOUT)]
    build_dataset(out, 40, seed=3, reports="template", size=64, progress=False, data_dir=atlas_dir,
                  patients=patients)
    return out


def test_audit_command_writes_json_and_png(built: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data", "audit", str(built), "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "linear probe on pixels" in result.output and "films per split and CT patient" in result.output
    assert json.loads((tmp_path / "audit.json").read_text())["probe_auroc"]
    assert (tmp_path / "contact_sheet.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "audit", "{tmp}/empty"], "no manifest.jsonl"),
        (["data", "audit", "{built}", "--real", "{tmp}/nope", "--out", "{tmp}/o"], "no such folder"),
        (["data", "build", "--out", "{tmp}/x", "--n", "2", "--ct", "{tmp}/nope"], "--ct"),
        (["data", "build", "--out", "{tmp}/x", "--n", "2", "--holdout-ct", "nobody"], "'nobody' is not"),
    ],
)
def test_bad_inputs_print_one_line_and_exit_1(built: Path, tmp_path: Path, args: list[str], message: str,
                                              atlas_dir: Path) -> None:  # noqa: F811
    (tmp_path / "empty").mkdir()
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{built}", str(built)) for a in args]
    env = {**os.environ, "MEDVLM_DATA_DIR": str(atlas_dir)}  # the session's atlas, not a new build
    result = subprocess.run([sys.executable, "-m", "medvlm", *argv], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
