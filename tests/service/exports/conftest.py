"""Fixtures for the export tests: a signed and a draft report about a real chest film."""

from __future__ import annotations

from pathlib import Path

import pytest

from medvlm.service.exports.context import ReportContext
from tests.service.exports.report_fixtures import chest_film_path, make_context


@pytest.fixture(scope="session")
def film() -> Path:
    return chest_film_path()


@pytest.fixture(scope="session")
def signed_ctx(film: Path) -> ReportContext:
    return make_context(film, signed=True)


@pytest.fixture(scope="session")
def draft_ctx(film: Path) -> ReportContext:
    return make_context(film, signed=False)
