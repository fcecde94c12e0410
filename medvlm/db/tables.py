"""Imports every module that defines tables, so that ``SQLModel.metadata`` is complete for Alembic."""

from __future__ import annotations

import importlib

# Each owner adds its table module here; a missing module is an error, not a silent gap.
TABLE_MODULES = [
    "medvlm.db.models",  # patients, studies, series, instances, ingest events  (migration 0001)
    "medvlm.registry.tables",  # model versions                                   (migration 0002)
    "medvlm.service.db.tables",  # users, api keys, jobs, reports, report versions      (migration 0003)
    "medvlm.compliance.audit.tables",  # hash-chained audit trail                       (migration 0004)
    "medvlm.service.hl7.tables",  # HL7 outbox                                           (migration 0010)
]

for _name in TABLE_MODULES:
    importlib.import_module(_name)
