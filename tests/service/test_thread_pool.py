"""The API's thread pool (sync routes and dependencies) has the configured size, not Starlette's 40."""

from __future__ import annotations

import anyio.to_thread
from fastapi.testclient import TestClient

from medvlm.service.app import create_app
from medvlm.settings import Settings


def _pool_size(client: TestClient) -> float:
    assert client.portal is not None
    return client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)


def test_thread_pool_follows_settings(settings: Settings) -> None:
    for threads in (2, 12):  # neither is the default (3)
        configured = settings.model_copy(update={"api_threads": threads, "secret_key": "s" * 48})
        with TestClient(create_app(configured)) as client:
            assert _pool_size(client) == threads
            assert client.get("/health").status_code == 200
