"""The Alembic migrations build exactly the schema the SQLModel tables declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from medvlm.db import get_engine, migrate
from medvlm.db.migrations_config import migration_folders

migration_folders()  # registers every layer's tables on SQLModel.metadata


def _schema_diff(url: str) -> list:
    with get_engine(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diff = compare_metadata(context, SQLModel.metadata)
    # Index/constraint naming differs harmlessly between backends; tables and columns must match.
    return [d for d in diff if isinstance(d, tuple) and d[0] in ("add_table", "remove_table", "add_column",
                                                                   "remove_column")]


def test_migrations_match_table_definitions(database_url: str) -> None:
    assert _schema_diff(database_url) == []


def test_migrating_twice_is_a_no_op(database_url: str) -> None:
    migrate(database_url)
    assert _schema_diff(database_url) == []
