"""The audit trail's part of the schema (see ``medvlm.db.schema``): its tables and migrations."""

from __future__ import annotations

from pathlib import Path

from medvlm.compliance.audit import tables as _tables  # noqa: F401  (registers the tables)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
