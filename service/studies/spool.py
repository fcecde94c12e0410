"""A request body spooled to a temporary file as it arrives, then mapped read-only: large bodies are
parsed by offset instead of being held (and copied) in memory."""

from __future__ import annotations

import mmap
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request


@asynccontextmanager
async def spooled_body(request: Request) -> AsyncIterator[bytes | mmap.mmap]:
    """The body as a read-only map of an anonymous temporary file (deleted on exit); ``b""`` when empty,
    since an empty file cannot be mapped."""
    with tempfile.TemporaryFile(prefix="medvlm-body-") as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.flush()
        if spool.tell() == 0:
            yield b""
            return
        with mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as view:
            yield view
