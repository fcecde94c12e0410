"""A worklist version: one counter that every commit changing what a worklist page shows moves, atomically.

The API processes keep worklist pages in memory (``service.studies.worklist_cache``) under the version
they read; a page is served again only while the version is unchanged. For that to be exact the counter
must move in the same commit as the change, whoever makes it (API, worker, ``medvlm ingest``, SQL by
hand), so triggers move it, on every column a page shows:

- ``service_study_states``: status, critical, owner key, sort keys; not ``updated_at``;
- ``studies``: UID, patient, accession number, date, description;
- ``patients``: patient id and name;
- ``series``: study and modality (the page lists modalities);
- ``service_reports``: insert / delete / study only (a page shows the report's id, not its text, so
  saving an edit in review does not move the version).

PostgreSQL: deferred constraint triggers, bumping once per transaction at commit. Deferred, the row lock
on the counter is the last lock a writer takes and is held only through its commit, so writers queue on
it for microseconds and cannot deadlock on it (a holder waits for nothing else). A bump before commit
through a sequence would not do: a reader could see the new number before the change and keep the old
page under it. SQLite: plain row triggers (its writers are serialized anyway).

Revision ID: 0009_worklist_version
Revises: 0008_worklist_covering
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_worklist_version"
down_revision = "0008_worklist_covering"
branch_labels = None
depends_on = None

# Table -> the columns a worklist page shows (an UPDATE of others does not move the version).
_WATCHED = {
    "service_study_states": [
        "study_instance_uid", "status", "critical", "source_api_key_id", "study_date", "study_created_at",
    ],
    "studies": ["study_instance_uid", "patient_pk", "accession_number", "study_date", "description"],
    "patients": ["patient_id", "name"],
    "series": ["study_instance_uid", "modality"],
    "service_reports": ["study_instance_uid"],
}
_BUMP = "UPDATE service_worklist_version SET n = n + 1 WHERE id = 1"

_PG_FUNCTION = f"""
CREATE FUNCTION bump_worklist_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Once per transaction: every changed row queues an event, the first one bumps.
  IF current_setting('medvlm.worklist_bumped_by', true) IS DISTINCT FROM txid_current()::text THEN
    PERFORM set_config('medvlm.worklist_bumped_by', txid_current()::text, true);
    {_BUMP};
  END IF;
  RETURN NULL;
END $$"""


def _pg_triggers(table: str, columns: list[str]) -> list[str]:
    return [
        f"CREATE CONSTRAINT TRIGGER worklist_version AFTER INSERT OR DELETE OR UPDATE OF {', '.join(columns)} "
        f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_worklist_version()",
        # TRUNCATE has no row events; it bumps at once (an administrator's statement, not a workflow's).
        f"CREATE TRIGGER worklist_version_truncate AFTER TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION bump_worklist_version()",
    ]


def _sqlite_triggers(table: str, columns: list[str]) -> list[str]:
    events = {"insert": "INSERT", "delete": "DELETE", "update": f"UPDATE OF {', '.join(columns)}"}
    return [
        f"CREATE TRIGGER worklist_version_{table}_{name} AFTER {event} ON {table} BEGIN {_BUMP}; END"
        for name, event in events.items()
    ]


def upgrade() -> None:
    op.create_table(
        "service_worklist_version",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO service_worklist_version (id, n) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for table, columns in _WATCHED.items():
            for statement in _pg_triggers(table, columns):
                op.execute(statement)
    else:
        for table, columns in _WATCHED.items():
            for statement in _sqlite_triggers(table, columns):
                op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _WATCHED:
            op.execute(f"DROP TRIGGER worklist_version ON {table}")
            op.execute(f"DROP TRIGGER worklist_version_truncate ON {table}")
        op.execute("DROP FUNCTION bump_worklist_version()")
    else:
        for table in _WATCHED:
            for name in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER worklist_version_{table}_{name}")
    op.drop_table("service_worklist_version")
