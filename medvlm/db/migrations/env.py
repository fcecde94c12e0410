"""Alembic environment: runs against the engine handed in by ``medvlm.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from medvlm.db import tables  # noqa: F401  (registers every table on SQLModel.metadata)
from medvlm.db.engine import get_engine

engine = context.config.attributes.get("engine") or get_engine()

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
