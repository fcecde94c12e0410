"""Several API processes on one port, each accepting on its own ``SO_REUSEPORT`` socket.

With one shared listening socket (uvicorn's ``--workers``), whichever process is awake accepts a burst of
keep-alive connections and keeps them for good: measured under 32 clients, 58 connections on one process
and 4 on the other, one at 100% CPU while the other idled, and throughput varying 2x between runs. With
``SO_REUSEPORT`` the kernel spreads new connections over the processes' sockets by a hash of the client's
address and port; ``service.connection_balance`` evens out what that hash leaves uneven.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator, MutableSequence
from contextlib import contextmanager
from multiprocessing.connection import wait
from typing import Any

from medvlm.errors import ConfigError
from medvlm.service.metrics import MULTIPROCESS_DIR_ENV


def _socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def check_port_free(host: str, port: int) -> None:
    """Refuse a port something already listens on, before the processes share it.

    ``SO_REUSEPORT`` would otherwise let this server silently split connections with another one started
    by the same user on the same port.
    """
    try:
        _socket(host, port, reuse_port=False).close()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = "already in use: stop what listens there, or pass --port"
        else:
            reason = f"cannot listen there: {exc.strerror}"
        raise ConfigError(f"{host}:{port} {reason}") from None


def _run_api_process(
    host: str, port: int, options: dict[str, Any], index: int, counts: MutableSequence[int]
) -> None:
    import uvicorn

    from medvlm.service.connection_balance import ConnectionBalance, install

    sock = _socket(host, port, reuse_port=True)
    sock.listen(2048)
    config = uvicorn.Config("medvlm.service.app:create_app", factory=True, host=host, port=port, **options)
    server = uvicorn.Server(config)
    # Installed before the app is built (uvicorn calls the factory in ``run``): create_app adds the middleware
    install(ConnectionBalance(index, counts, lambda: len(server.server_state.connections)))
    server.run(sockets=[sock])


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_api_processes(host: str, port: int, processes: int, options: dict[str, Any]) -> int:
    """Run ``processes`` API processes until one exits or this one is interrupted; stop all of them.

    Call ``check_port_free`` first.
    Returns the exit code of the process that ended first (0 when interrupted). Each process builds its
    own app from the environment's settings, like uvicorn's workers.
    """
    with _shared_metrics_dir():
        return _supervise(host, port, processes, options)


@contextmanager
def _shared_metrics_dir() -> Iterator[None]:
    """One Prometheus view of all API processes: each writes its metrics to files in a folder, and
    /metrics, whichever process answers, adds them up (``service.metrics``). A fresh folder each time:
    files left from an earlier run would add their counts."""
    path = tempfile.mkdtemp(prefix="medvlm-metrics-")
    previous = os.environ.get(MULTIPROCESS_DIR_ENV)
    os.environ[MULTIPROCESS_DIR_ENV] = path  # read by the API processes as they start (spawn)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_DIR_ENV, None)
        else:
            os.environ[MULTIPROCESS_DIR_ENV] = previous
        shutil.rmtree(path, ignore_errors=True)


def _supervise(host: str, port: int, processes: int, options: dict[str, Any]) -> int:
    context = multiprocessing.get_context("spawn")  # no threads, engines or models inherited by fork
    counts = context.Array("i", processes, lock=False)  # open connections per process, for the balance
    children = [
        context.Process(
            target=_run_api_process, args=(host, port, options, i, counts), name=f"medvlm-api-{i}"
        )
        for i in range(processes)
    ]
    for child in children:
        child.start()
    code = 0
    # Both stop signals end the wait below, so the children are always stopped: SIGTERM (systemd, docker
    # stop) would otherwise end this process at once and leave them serving, and SIGINT is ignored in a
    # process started in the background by a non-interactive shell (uvicorn alone also handles both).
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        wait([child.sentinel for child in children])
        code = next(child.exitcode or 0 for child in children if not child.is_alive())
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
                child.join()
    return code
