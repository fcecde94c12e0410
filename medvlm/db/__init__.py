"""Database access: one engine per URL (SQLite default, PostgreSQL for production), schema by Alembic."""

from medvlm.db.engine import create_db_engine, get_engine, migrate, session_scope

__all__ = ["create_db_engine", "get_engine", "migrate", "session_scope"]
