"""Worklist sort keys on the study state: one row per study, kept by triggers, read through one index.

The worklist orders by (critical, study date, time indexed, UID). ``critical`` lived on
``service_study_states`` and the dates on ``studies``, and a study ingested outside the service (``medvlm
ingest``) had no state row at all, so every page was an outer join of all studies, sorted whole. Now the
state row carries copies of the study's date and indexing time, a trigger on ``studies`` creates the row
(status ``received``) when a study is indexed by anyone and keeps the copies current, and two indexes in
exactly the worklist's order (one led by status, for the status filter) let a page be read from an index
in O(offset + page) instead of O(studies).

Revision ID: 0007_worklist_keys
Revises: 0006_audit_lanes
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_worklist_keys"
down_revision = "0006_audit_lanes"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
_ORDER: list[str | sa.TextClause] = [
    sa.text("critical DESC"),
    sa.text("study_date DESC"),
    sa.text("study_created_at DESC"),
    "study_instance_uid",
]

_SQLITE_TRIGGERS = [
    """CREATE TRIGGER studies_worklist_insert AFTER INSERT ON studies BEGIN
         INSERT INTO service_study_states
           (study_instance_uid, status, critical, updated_at, study_date, study_created_at)
         VALUES (NEW.study_instance_uid, 'received', 0, NEW.created_at, NEW.study_date, NEW.created_at)
         ON CONFLICT (study_instance_uid) DO UPDATE
           SET study_date = excluded.study_date, study_created_at = excluded.study_created_at;
       END""",
    """CREATE TRIGGER studies_worklist_update AFTER UPDATE OF study_date, created_at ON studies BEGIN
         UPDATE service_study_states SET study_date = NEW.study_date, study_created_at = NEW.created_at
         WHERE study_instance_uid = NEW.study_instance_uid;
       END""",
    """CREATE TRIGGER studies_worklist_delete AFTER DELETE ON studies BEGIN
         DELETE FROM service_study_states WHERE study_instance_uid = OLD.study_instance_uid;
       END""",
]
_PG_FUNCTION = """
CREATE FUNCTION studies_to_worklist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM service_study_states WHERE study_instance_uid = OLD.study_instance_uid;
    RETURN OLD;
  END IF;
  INSERT INTO service_study_states
    (study_instance_uid, status, critical, updated_at, study_date, study_created_at)
  VALUES (NEW.study_instance_uid, 'received', false, NEW.created_at, NEW.study_date, NEW.created_at)
  ON CONFLICT (study_instance_uid) DO UPDATE
    SET study_date = EXCLUDED.study_date, study_created_at = EXCLUDED.study_created_at;
  RETURN NEW;
END $$"""
_PG_TRIGGER = (
    "CREATE TRIGGER studies_worklist AFTER INSERT OR DELETE OR UPDATE OF study_date, created_at "
    "ON studies FOR EACH ROW EXECUTE FUNCTION studies_to_worklist()"
)


def upgrade() -> None:
    op.add_column(
        "service_study_states", sa.Column("study_date", sa.String(8), nullable=False, server_default="")
    )
    op.add_column("service_study_states", sa.Column("study_created_at", TS, nullable=True))
    # Studies indexed before the service saw them get their row now; every row gets its study's keys.
    op.execute(
        sa.text(
            "INSERT INTO service_study_states (study_instance_uid, status, critical, updated_at) "
            "SELECT s.study_instance_uid, 'received', :false, s.created_at FROM studies s WHERE NOT EXISTS "
            "(SELECT 1 FROM service_study_states st WHERE st.study_instance_uid = s.study_instance_uid)"
        ).bindparams(sa.bindparam("false", False, type_=sa.Boolean()))
    )
    op.execute(
        "UPDATE service_study_states SET "
        "study_date = (SELECT s.study_date FROM studies s "
        "WHERE s.study_instance_uid = service_study_states.study_instance_uid), "
        "study_created_at = (SELECT s.created_at FROM studies s "
        "WHERE s.study_instance_uid = service_study_states.study_instance_uid) "
        "WHERE EXISTS (SELECT 1 FROM studies s WHERE s.study_instance_uid = service_study_states.study_instance_uid)"
    )
    op.create_index("ix_study_states_worklist", "service_study_states", _ORDER)
    op.create_index("ix_study_states_worklist_status", "service_study_states", ["status", *_ORDER])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER studies_worklist ON studies")
        op.execute("DROP FUNCTION studies_to_worklist()")
    else:
        for name in ("studies_worklist_insert", "studies_worklist_update", "studies_worklist_delete"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_study_states_worklist_status", table_name="service_study_states")
    op.drop_index("ix_study_states_worklist", table_name="service_study_states")
    with op.batch_alter_table("service_study_states") as batch:
        batch.drop_column("study_created_at")
        batch.drop_column("study_date")
