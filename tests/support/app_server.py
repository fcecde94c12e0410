"""A FastAPI app served by uvicorn in a thread on 127.0.0.1 for one test (UI and DICOMweb client tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from tests.support.processes import free_port


@contextmanager
def serve_in_thread(app: Any, seconds: float = 20.0) -> Iterator[str]:
    """Yield ``http://127.0.0.1:PORT`` while ``app`` serves there; stopped (and joined) on exit."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + seconds
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=seconds)
