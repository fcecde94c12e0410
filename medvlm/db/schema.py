"""The library's part of the schema: its tables and the folder of its migrations.

Each layer owns its tables and migrations: the library (this module: studies, series, instances, ingest
events, model versions), the audit trail (``medvlm.compliance.audit.schema``) and the service
(``medvlm.service.schema``). Each registers itself under the ``medvlm.schema`` entry point group in
``pyproject.toml``; ``medvlm.db.migrate`` loads every registered part, so no layer names one above it.
The revisions form one linear chain (0001 .. 0009 and on) across the folders.
"""

from __future__ import annotations

from pathlib import Path

from medvlm.db import models as _models  # noqa: F401  (registers the tables on SQLModel.metadata)
from medvlm.registry import tables as _registry_tables  # noqa: F401

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"
