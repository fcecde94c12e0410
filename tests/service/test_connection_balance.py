"""The fuller API process lets keep-alive connections go until the processes differ by at most one."""

from __future__ import annotations

import asyncio

from medvlm.service.connection_balance import ConnectionBalance, ReleaseExcessConnections


def _balance(counts: list[int], mine: int, **kwargs: float) -> ConnectionBalance:
    return ConnectionBalance(0, counts, lambda: mine, **kwargs)  # type: ignore[arg-type]


def test_releases_only_when_at_least_two_above_the_emptiest() -> None:
    assert not _balance([0, 8], mine=9).release_one()
    assert not _balance([0, 9], mine=9).release_one()
    balance = _balance([0, 7], mine=9)
    assert balance.release_one()
    assert balance.counts[0] == 8  # published as already gone, so no other request lets one more go for it


def test_publishes_its_count_on_every_request() -> None:
    balance = _balance([0, 5], mine=4)
    balance.release_one()
    assert list(balance.counts) == [4, 5]


def test_one_release_per_interval() -> None:
    balance = _balance([0, 2], mine=12, interval_s=3600)
    assert balance.release_one()
    assert not balance.release_one()  # still 12 open, 10 more than the other, but the interval has not passed
    assert _balance([0, 2], mine=12, interval_s=0).release_one()


def _answer(balance: ConnectionBalance) -> list[tuple[bytes, bytes]]:
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        headers = [(b"connection", b"keep-alive")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    sent: list[dict] = []

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    async def receive():  # type: ignore[no-untyped-def]
        return {"type": "http.request"}

    asyncio.run(ReleaseExcessConnections(app, balance)({"type": "http"}, receive, send))
    return sent[0]["headers"]


def test_middleware_asks_the_client_to_reconnect_only_when_released() -> None:
    assert _answer(_balance([0, 0], mine=5, interval_s=0)) == [(b"connection", b"close")]
    assert _answer(_balance([0, 5], mine=5)) == [(b"connection", b"keep-alive")]
