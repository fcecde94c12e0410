"""Audit trail in lanes: ``LANES`` hash chains with one head row each, so appends stop queueing on one row.

Existing rows move to lane 0 unchanged (``id`` = old ``seq``, ``lane_seq`` = old ``seq``, same hashes):
lane 0 rows are hashed exactly as the single chain was, so the chain stays valid and a head hash
published before the upgrade still matches lane 0. The table is rebuilt (copy, drop, rename) because
SQLite cannot change a primary key in place; the append-only triggers are recreated on the new table.

Revision ID: 0006_audit_lanes
Revises: 0005_worklist_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_audit_lanes"
down_revision = "0005_worklist_indexes"
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64
LANES = 16  # compliance.audit.tables.LANES at the time of writing
_COLUMNS = "created_at, actor, action, resource_type, resource_id, detail, prev_hash, hash"
_INDEXES = {"ix_audit_event_created_at": ["created_at"], "ix_audit_event_actor": ["actor"],
            "ix_audit_event_action": ["action"], "ix_audit_event_resource": ["resource_type", "resource_id"]}

_SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
]
# The function audit_event_append_only() from 0004 stays; only the triggers belong to the table.
_PG_TRIGGERS = [
    "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
]


def _set_aside(old: str) -> str:
    """Rename the table and free the index / constraint names the new table needs."""
    dialect = op.get_bind().dialect.name
    for name in _INDEXES:
        op.drop_index(name, table_name="audit_event")
    op.rename_table("audit_event", old)
    if dialect == "postgresql":
        op.execute(f"ALTER INDEX audit_event_pkey RENAME TO {old}_pkey")
        op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT uq_audit_event_hash TO uq_{old}_hash")
    return dialect


def _finish(dialect: str) -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, "audit_event", columns)
    for statement in {"postgresql": _PG_TRIGGERS, "sqlite": _SQLITE_TRIGGERS}.get(dialect, []):
        op.execute(statement)


def upgrade() -> None:
    dialect = _set_aside("audit_event_v1")
    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("lane", sa.SmallInteger(), nullable=False),
        sa.Column("lane_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("hash", name="uq_audit_event_hash"),
        sa.UniqueConstraint("lane", "lane_seq", name="uq_audit_event_lane_seq"),
    )
    op.execute(f"INSERT INTO audit_event (id, lane, lane_seq, {_COLUMNS}) "
               f"SELECT seq, 0, seq, {_COLUMNS} FROM audit_event_v1")
    op.drop_table("audit_event_v1")
    if dialect == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('audit_event', 'id'), "
                   "COALESCE((SELECT MAX(id) FROM audit_event), 0) + 1, false)")
    _finish(dialect)

    old_head = op.get_bind().execute(
        sa.text("SELECT last_seq, last_hash FROM audit_head WHERE id = 1")).first()
    op.drop_table("audit_head")
    head = op.create_table(
        "audit_head",
        sa.Column("lane", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    # Lane 0 continues the old chain; a missing old head stays missing (verify reports it).
    rows = [{"lane": 0, "last_seq": old_head[0], "last_hash": old_head[1]}] if old_head else []
    rows += [{"lane": lane, "last_seq": 0, "last_hash": GENESIS_HASH} for lane in range(1, LANES)]
    op.bulk_insert(head, rows)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM audit_event WHERE lane <> 0")).scalar_one():
        raise RuntimeError("cannot downgrade 0006_audit_lanes: audit rows exist in lanes other than 0, "
                           "and one chain cannot hold them without re-hashing the trail")
    dialect = _set_aside("audit_event_v2")
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("hash", name="uq_audit_event_hash"),
    )
    op.execute(f"INSERT INTO audit_event (seq, {_COLUMNS}) SELECT lane_seq, {_COLUMNS} FROM audit_event_v2")
    op.drop_table("audit_event_v2")
    _finish(dialect)
    old_head = bind.execute(sa.text("SELECT last_seq, last_hash FROM audit_head WHERE lane = 0")).first()
    op.drop_table("audit_head")
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    if old_head:
        op.bulk_insert(head, [{"id": 1, "last_seq": old_head[0], "last_hash": old_head[1]}])
