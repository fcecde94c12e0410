"""Keep keep-alive connections evenly spread over the API processes.

Each API process accepts on its own ``SO_REUSEPORT`` socket (``service.processes``), and the kernel picks
the socket by a hash of the client's address and port: fair on average, but a given set of connections
lands unevenly (measured: 19 and 13 of 32 clients), and a keep-alive connection stays where it landed. Both
processes are CPU-bound under load, so the clients of the fuller one wait about 1.5x longer, for good.

A process with at least ``min_gap`` more connections than the emptiest one answers its next request with
``Connection: close``: the client reconnects (browsers and HTTP libraries do so transparently) and the
kernel hashes the new connection afresh. At most one connection per ``interval_s`` is let go, so that the
counts the processes publish catch up before the next one is; the spread then converges within a
difference of one. Counts live in a shared array, one slot per process, each written only by its owner.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableSequence
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class ConnectionBalance:
    """One API process's view: its slot ``index`` in ``counts``, and how to count its own connections."""

    index: int
    counts: MutableSequence[int]
    open_connections: Callable[[], int]
    min_gap: int = 2
    interval_s: float = 0.02
    _last_release: float = field(default=float("-inf"), repr=False)

    def release_one(self) -> bool:
        """Publish this process's count; True when this request's connection should be let go."""
        mine = self.open_connections()
        self.counts[self.index] = mine
        if mine - min(self.counts) < self.min_gap:
            return False
        now = time.monotonic()
        if now - self._last_release < self.interval_s:
            return False
        self._last_release = now
        self.counts[self.index] = mine - 1  # the others see it gone before the client reconnects
        return True


_installed: ConnectionBalance | None = None


def install(balance: ConnectionBalance | None) -> None:
    """Set this process's balance (``service.processes`` does, before the app is built)."""
    global _installed
    _installed = balance


def installed() -> ConnectionBalance | None:
    return _installed


class ReleaseExcessConnections:
    """ASGI middleware: adds ``Connection: close`` to the answer when the balance says so."""

    def __init__(self, app: ASGIApp, balance: ConnectionBalance) -> None:
        self.app, self.balance = app, balance

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.balance.release_one():
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_closing)
