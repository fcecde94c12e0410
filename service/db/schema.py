"""The service's part of the schema (see ``medvlm.db.schema``): users, keys, jobs, reports, worklist state."""

from __future__ import annotations

from pathlib import Path

from medvlm.service.db import tables as _tables  # noqa: F401  (registers the tables)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
