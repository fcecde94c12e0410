"""Fixtures for the DICOM tests: a snapshot of the store and the index, to prove nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from medvlm.db import get_engine
from medvlm.db.models import IngestEvent, Instance, Patient, Series, Study
from medvlm.settings import Settings


def snapshot(settings: Settings) -> tuple[dict[str, int], list[str]]:
    """Row counts of the index tables and every file (temporary files included) under the store."""
    with Session(get_engine(settings.resolved_database_url)) as session:
        counts = {table.__name__: session.exec(select(func.count()).select_from(table)).one()
                  for table in (Patient, Study, Series, Instance, IngestEvent)}
    root = settings.store_dir
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []
    return counts, files


@pytest.fixture
def snap():  # type: ignore[no-untyped-def]
    return snapshot


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "in"
    path.mkdir()
    return path
