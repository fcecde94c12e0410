"""Servers the tests start: a free loopback port before, and a clean stop (by PID) after."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 30) -> None:  # type: ignore[type-arg]
    """Ask ``proc`` to stop with ``sig``; kill it if it has not exited within ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_healthy(
    base_url: str,
    proc: subprocess.Popen,  # type: ignore[type-arg]
    *,
    seconds: float = 120,
    log: Path | None = None,
) -> None:
    """Poll ``GET /health`` until it answers 200; fail with the server's last output if it exits first or
    never answers. The output is ``log`` when the server writes one, else its stdout pipe once it exited.
    """

    def tail() -> str:
        if log is not None:
            return log.read_text(errors="replace")[-3000:]
        if proc.poll() is None or proc.stdout is None:
            return ""  # reading a live pipe would wait for the server to exit
        data = proc.stdout.read()
        return (data.decode(errors="replace") if isinstance(data, bytes) else data)[-3000:]

    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with status {proc.returncode}:\n{tail()}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not answer /health within {seconds:.0f} s:\n{tail()}")
        time.sleep(0.2)
