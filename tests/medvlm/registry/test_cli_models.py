"""``medvlm models`` through the real CLI entry point (errors: one line, exit 1)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from medvlm.settings import Settings
from tests.medvlm.registry.conftest import CardFactory


def _medvlm(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"MEDVLM_DATA_DIR": str(settings.data_dir), "MEDVLM_DATABASE_URL": settings.resolved_database_url,
           "MEDVLM_ENVIRONMENT": "test", "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "medvlm", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_register_list_promote_and_refuse(sqlite_settings: Settings, model_dir_factory: CardFactory) -> None:
    good, worse = model_dir_factory("good", ce_f1=0.85), model_dir_factory("worse", ce_f1=0.60)
    assert _medvlm(sqlite_settings, "models", "register", str(good)).returncode == 0
    assert _medvlm(sqlite_settings, "models", "register", str(worse)).returncode == 0
    promoted = _medvlm(sqlite_settings, "models", "promote", "good")
    assert promoted.returncode == 0 and "good is now production" in promoted.stdout
    refused = _medvlm(sqlite_settings, "models", "promote", "worse")
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith("error: version worse not promoted over good: report.ce_f1")
    listed = _medvlm(sqlite_settings, "models", "list")
    assert listed.returncode == 0 and "production" in listed.stdout and "0.850" in listed.stdout
    as_json = json.loads(_medvlm(sqlite_settings, "models", "list", "--json").stdout)
    assert {v["id"]: v["status"] for v in as_json} == {"good": "production", "worse": "candidate"}
    shown = json.loads(_medvlm(sqlite_settings, "models", "show", "good").stdout)
    assert shown["curriculum_sha256"] == "c" * 64 and shown["config"]["hidden_size"] == 64


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("models", "promote", "ghost"), "error: no model version 'ghost'"),
        (("models", "show", "ghost"), "error: no model version 'ghost'"),
        (("models", "register", "/nonexistent/m"), "error: model directory /nonexistent/m does not exist"),
        (("models", "list", "--status", "odd"), "error: unknown status 'odd'"),
    ],
)
def test_cli_errors_are_one_line(sqlite_settings: Settings, args: tuple[str, ...], message: str) -> None:
    result = _medvlm(sqlite_settings, *args)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and message in result.stderr
