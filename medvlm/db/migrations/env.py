"""Alembic environment: runs against the engine handed in by ``medvlm.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from medvlm.db.engine import get_engine
from medvlm.db.migrations_config import migration_folders

migration_folders()  # loads every registered schema part, so SQLModel.metadata holds every table

engine = context.config.attributes.get("engine") or get_engine()

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
