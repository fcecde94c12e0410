"""A request body spooled to a temporary file as it arrives, then mapped read-only: large bodies are
parsed by offset instead of being held (and copied) in memory."""

from __future__ import annotations

import errno
import mmap
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import Request

from medvlm.errors import StorageFullError


@contextmanager
def full_disk_is_507(what: str) -> Iterator[None]:
    """A temporary copy that runs out of disk is the machine's trouble (507), not a bare 500."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFullError(f"no disk space left for {what}; nothing was stored") from exc
        raise


@asynccontextmanager
async def spooled_body(request: Request) -> AsyncIterator[bytes | mmap.mmap]:
    """The body as a read-only map of an anonymous temporary file (deleted on exit); ``b""`` when empty,
    since an empty file cannot be mapped."""
    with tempfile.TemporaryFile(prefix="medvlm-body-") as spool:
        with full_disk_is_507("the request body's temporary copy"):
            async for chunk in request.stream():
                spool.write(chunk)
            spool.flush()
        if spool.tell() == 0:
            yield b""
            return
        with mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as view:
            yield view
