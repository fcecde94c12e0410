"""``medvlm users add`` and ``medvlm serve``: a real server process with its worker, on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from medvlm.cli.main import app as cli
from medvlm.pacs.scu import send
from tests.service.helpers import dicom_bytes
from tests.support.processes import free_port, stop_process, wait_healthy

PW = "a fine long passphrase"  # passes the password policy (service.auth.passwords)

REPO = Path(__file__).resolve().parents[3]
SECRET = "cli-test-secret-" + "z" * 40


@pytest.fixture
def env(settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MEDVLM_SECRET_KEY", SECRET)
    from medvlm.settings import get_settings

    get_settings.cache_clear()
    return {k: v for k, v in os.environ.items()}


def _start_serve(env: dict[str, str], *args: str, **popen: Any) -> subprocess.Popen:  # type: ignore[type-arg]
    """``medvlm serve ARGS`` as a real process, output on a pipe (``wait_healthy`` shows it on failure)."""
    return subprocess.Popen(
        [sys.executable, "-m", "medvlm", "serve", *args],
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **popen,
    )


def test_users_add(env: dict[str, str]) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        cli,
        ["users", "add", "alice", "--role", "radiologist"],
        env={"MEDVLM_NEW_USER_PASSWORD": "a long enough password"},
    )
    assert ok.exit_code == 0 and "created radiologist 'alice'" in ok.output
    prompted = runner.invoke(
        cli,
        ["users", "add", "bob", "--role", "admin"],
        input="another long password\nanother long password\n",
    )
    assert prompted.exit_code == 0, prompted.output
    again = runner.invoke(cli, ["users", "add", "alice", "--role", "radiologist", "--password", PW])
    assert (
        again.exit_code == 1
        and isinstance(again.exception, Exception)
        and "already exists" in str(again.exception)
    )
    for args in (["--role", "god", "--password", "x" * 20], ["--role", "admin", "--password", "short"]):
        bad = runner.invoke(cli, ["users", "add", "carol", *args])
        assert bad.exit_code == 2, bad.output


def test_serve_runs_api_and_worker(env: dict[str, str]) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(
            cli, ["users", "add", "rad", "--role", "radiologist", "--password", PW]
        ).exit_code == 0
    )
    port, dicom_port = free_port(), free_port()
    proc = _start_serve(env, "--port", str(port), "--dicom-port", str(dicom_port))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        with httpx.Client(base_url=base, timeout=30) as client:
            token = client.post("/api/v1/auth/login", json={"username": "rad", "password": PW}).json()
            h = {"Authorization": f"Bearer {token['access_token']}"}
            up = client.post(
                "/api/v1/studies", files=[("files", ("a.dcm", dicom_bytes(study_uid="1.2.99")))], headers=h
            )
            assert up.status_code == 202
            job_id = up.json()["jobs"][0]
            # No model is configured here: the worker thread takes the job and records why it cannot draft.
            deadline = time.monotonic() + 60
            while (job := client.get(f"/api/v1/jobs/{job_id}", headers=h).json())["status"] != "failed":
                assert time.monotonic() < deadline, job
                time.sleep(0.2)
            assert "no validated model is available" in job["last_error"]
            # The same process accepts DICOM: a C-STORE is stored, listed and queued like an upload.
            sent = send("127.0.0.1", dicom_port, [dicom_bytes(study_uid="1.2.98")], called_ae="MEDVLM")
            assert [r.status for r in sent] == [0], sent
            deadline = time.monotonic() + 30
            while client.get("/api/v1/studies/1.2.98", headers=h).json().get("status") != "failed":
                assert time.monotonic() < deadline, client.get("/api/v1/studies/1.2.98", headers=h).text
                time.sleep(0.2)
            assert client.get("/", headers={}).status_code == 200  # the UI is served too
            assert client.get("/openapi.json").json()["info"]["title"] == "MedVLM"
    finally:
        stop_process(proc)


def test_serve_refuses_default_secret_in_production(env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "medvlm", "serve"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={
            **env,
            "MEDVLM_ENVIRONMENT": "test",
            "MEDVLM_SECRET_KEY": "change-me-development-only",
            "PYTHONPATH": str(REPO),
        },
        timeout=120,
    )
    assert proc.returncode == 1 and "default secret" in proc.stderr


def _ignore_sigint() -> None:  # as for a job started with '&' by a non-interactive shell
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_spreads_connections_over_api_processes(env: dict[str, str], stop_signal: int) -> None:
    """Two API processes, each listening on the port itself: keep-alive connections end up evenly spread
    over both, and both stop."""
    import psutil

    port = free_port()
    proc = _start_serve(env, "--port", str(port), "--api-processes", "2", preexec_fn=_ignore_sigint)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        children = psutil.Process(proc.pid).children()
        listeners = {
            child.pid
            for child in children
            for conn in child.net_connections(kind="tcp")
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port
        }
        assert len(listeners) == 2, children
        clients = [httpx.Client(base_url=base) for _ in range(16)]  # 16 keep-alive connections
        per_process: list[int] = []
        try:
            # The kernel hashes connections over the two sockets (8 and 8 about one run in five); the fuller
            # process lets connections go until the two differ by at most one, and then keeps them.
            for _ in range(100):
                assert all(client.get("/health").status_code == 200 for client in clients)
                counts = [
                    sum(
                        1
                        for conn in child.net_connections(kind="tcp")
                        if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == port
                    )
                    for child in children
                    if child.pid in listeners
                ]
                if counts == per_process and sum(counts) == 16:
                    break  # stable over a whole round: no connection was let go
                per_process = counts
        finally:
            for client in clients:
                client.close()
        assert sum(per_process) == 16 and max(per_process) - min(per_process) <= 1, per_process
        busy = subprocess.run(
            [sys.executable, "-m", "medvlm", "serve", "--port", str(port)],
            cwd=REPO,
            env={**env, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert busy.returncode == 1 and f"127.0.0.1:{port} already in use" in busy.stderr
    finally:
        stop_process(proc, stop_signal)  # Ctrl-C, or a service manager: the API processes go too
    assert proc.returncode is not None
    api = [child for child in children if child.pid in listeners]
    assert not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in api)


def _health_requests_counted(base: str, headers: dict[str, str]) -> float:
    """``GET /health`` answers counted by /metrics, asked on a new connection (any API process answers)."""
    text = httpx.get(f"{base}/metrics", headers=headers, timeout=30).text
    counted = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("medvlm_http_requests_total{")
        and 'route="/health"' in line
        and 'status="200"' in line
    ]
    assert len(counted) == 1, text
    return counted[0]


def test_metrics_count_the_requests_of_every_api_process(env: dict[str, str]) -> None:
    """With two API processes a scrape reaches one of them; it must still count the other's requests."""
    runner = CliRunner()
    added = runner.invoke(cli, ["users", "add", "ops", "--role", "admin", "--password", PW])
    assert added.exit_code == 0, added.output
    port = free_port()
    proc = _start_serve(env, "--port", str(port), "--api-processes", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        login = httpx.post(f"{base}/api/v1/auth/login", json={"username": "ops", "password": PW})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        before = _health_requests_counted(base, headers)
        clients = [httpx.Client(base_url=base) for _ in range(16)]  # spread over both processes
        try:
            for _ in range(5):
                assert all(client.get("/health").status_code == 200 for client in clients)
        finally:
            for client in clients:
                client.close()
        # Each scrape on its own connection, so both processes answer some of them.
        assert [_health_requests_counted(base, headers) - before for _ in range(6)] == [80.0] * 6
    finally:
        stop_process(proc)
