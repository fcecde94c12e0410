"""``medvlm demo`` end to end, as the README's main command runs it, at CI size (micro preset, 64 px films).

Demo studies are rendered, a model trained and promoted, held-out studies and the real pydicom-data chest
film ingested, and the served API must then show drafted studies to the demo radiologist. A second run
reuses everything and starts serving without training again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from medvlm.cli.demo import DEMO_PASSWORD, DEMO_USER
from tests.medvlm.training.conftest import write_curriculum
from tests.support.processes import free_port, stop_process, wait_healthy

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


def _demo(tmp_path: Path, curriculum: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "MEDVLM_DATA_DIR": str(tmp_path / "var"),
            "MEDVLM_ENVIRONMENT": "development",
            "OMP_NUM_THREADS": "2",
        }
    )
    env.pop("MEDVLM_DATABASE_URL", None)  # the embedded default: SQLite in the data directory
    env.pop("MEDVLM_MODEL_DIR", None)
    args = ["demo", "--studies", "48", "--review", "3", "--size", "64", "--curriculum", str(curriculum)]
    return subprocess.Popen(
        [sys.executable, "-m", "medvlm", *args, "--port", str(port), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(proc: subprocess.Popen[str]) -> str:
    stop_process(proc)
    return proc.stdout.read() if proc.stdout else ""




def test_demo_builds_trains_ingests_drafts_and_serves(tmp_path: Path) -> None:
    curriculum = write_curriculum(tmp_path / "curriculum", encoder_steps=6, text_stages=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _demo(tmp_path, curriculum, port)
    try:
        wait_healthy(base, proc, seconds=600)
        with httpx.Client(base_url=base, timeout=30) as client:
            login = client.post("/api/v1/auth/login", json={"username": DEMO_USER, "password": DEMO_PASSWORD})
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            deadline = time.monotonic() + 300
            while True:
                page = client.get("/api/v1/studies", params={"page_size": 100}, headers=headers).json()
                statuses = [item["status"] for item in page["items"]]
                if statuses and all(s in ("draft_ready", "failed") for s in statuses):
                    break
                assert time.monotonic() < deadline, statuses
                time.sleep(1)
            # three held-out demo studies plus the real CR chest film, every one drafted
            assert len(statuses) == 4 and set(statuses) == {"draft_ready"}, page
            study = page["items"][0]
            report = client.get(f"/api/v1/reports/{study['report_id']}", headers=headers).json()
            assert report["status"] == "draft" and report["model_version"]
            # a CI-size model is below the promotion floors: served, but every draft says so
            assert report["model_version"].endswith("(unvalidated model)"), report["model_version"]
            assert len(report["findings"]) > 0
            assert client.get("/", headers={}).status_code == 200  # the review UI is served too
    finally:
        output = _stop(proc)
    assert "training" in output and "below the promotion floors" in output, output[-3000:]
    assert "UNVALIDATED model" in output, output[-3000:]
    assert (tmp_path / "var" / "models" / "demo-tiny" / "model_card.json").exists()

    # Second run: every step reuses what the first made, so serving starts without training again, and
    # nothing already drafted is drafted again.
    proc = _demo(tmp_path, curriculum, port)
    try:
        wait_healthy(base, proc, seconds=180)
        with httpx.Client(base_url=base, timeout=30) as client:
            login = client.post("/api/v1/auth/login", json={"username": DEMO_USER, "password": DEMO_PASSWORD})
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            page = client.get("/api/v1/studies", params={"page_size": 100}, headers=headers).json()
            assert {item["status"] for item in page["items"]} == {"draft_ready"}, page
    finally:
        output = _stop(proc)
    assert "demo studies: reusing" in output and "model: reusing" in output, output[-3000:]
    assert "ingested 0" in output and "0 draft job(s) queued" in output, output[-3000:]
