"""The service's part of the schema (see ``medvlm.db.schema``): users, keys, jobs, reports, worklist state."""

from __future__ import annotations

from pathlib import Path

from medvlm.service.db import retrain_tables as _retrain_tables  # noqa: F401  (retraining jobs, 0012)
from medvlm.service.db import tables as _tables  # noqa: F401  (registers the tables)
from medvlm.service.hl7 import tables as _hl7_tables  # noqa: F401  (the HL7 outbox, migration 0010)

MIGRATIONS_DIR = Path(__file__).parent / "db" / "migrations"
