"""Servers the tests start: a free loopback port before, and a clean stop (by PID) after."""

from __future__ import annotations

import signal
import socket
import subprocess


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
