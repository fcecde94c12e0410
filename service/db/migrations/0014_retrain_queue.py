"""Service: retraining jobs become a durable queue, claimed by a worker process under a lease.

``worker_id`` / ``lease_until``: who runs the job and until when its lease holds (renewed with every
progress write). A running job whose lease ran out lost its worker (a restart): the next worker to look
marks it failed with that reason (``service.jobs.retrain_queue``). ``percent`` is computed, not stored.

Revision ID: 0014_retrain_queue
Revises: 0013_worklist_reason_views
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_retrain_queue"
down_revision = "0013_worklist_reason_views"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("service_retrain_jobs", sa.Column("worker_id", sa.String(64), nullable=True))
    op.add_column("service_retrain_jobs", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("service_retrain_jobs", sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for column in ("started_at", "lease_until", "worker_id"):
        op.drop_column("service_retrain_jobs", column)
