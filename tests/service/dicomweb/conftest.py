"""The service on a real loopback HTTP server, for DICOMweb clients (as a viewer calls it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from tests.support.app_server import serve_in_thread


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    with serve_in_thread(app) as base:
        yield f"{base}/api/v1/dicomweb"
