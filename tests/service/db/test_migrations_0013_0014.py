"""Migrations 0013 (the worklist's reason and views; model version watched) and 0014 (the retraining
queue's worker, lease and start), on SQLite and PostgreSQL: rows written before them survive, the new
shown columns move the worklist version, and both go down and up again."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from medvlm.db import get_engine, migrate
from medvlm.db.migrations_config import alembic_config
from tests.service.db.test_worklist_version import NOW, SHOWN, TS, _seed, _version, _write


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("postgres_server").create_database()


RETRAIN_ROW = (
    "INSERT INTO service_retrain_jobs (id, status, requested_by, data_dir, curriculum, promote, stage, step, "
    "steps, promoted, result, created_at, updated_at) VALUES ('j1', 'running', 'user:a', '/d', '/c', :f, "
    "'corrections', 3, 14, :f, '{}', :c, :c)"
)


def test_rows_from_before_survive_and_the_new_columns_start_empty(fresh_url: str) -> None:
    migrate(fresh_url, "0012_retrain_jobs")
    engine = get_engine(fresh_url)
    _seed(engine, ["1.2.1"])
    _write(engine, RETRAIN_ROW, "UPDATE service_study_states SET status = 'failed'", f=False, c=NOW)
    migrate(fresh_url)
    with engine.connect() as conn:
        state = conn.execute(sa.text("SELECT status, status_reason, views FROM service_study_states")).one()
        job = conn.execute(sa.text(
            "SELECT status, stage, step, worker_id, lease_until, started_at FROM service_retrain_jobs"
        ).columns(lease_until=TS, started_at=TS)).one()
    assert tuple(state) == ("failed", None, None)
    assert tuple(job) == ("running", "corrections", 3, None, None, None)


# the columns 0013 adds to what a worklist page shows, written as another process would
NEW_SHOWN = {
    "status reason": "UPDATE service_study_states SET status_reason = 'outside intended use: modality MR'",
    "views": "UPDATE service_study_states SET views = '[{\"kind\": \"frontal\", \"view_position\": \"PA\"}]'",
    "model version": "UPDATE service_reports SET model_version = 'v2 (unvalidated model)'",
}


@pytest.mark.parametrize("change", list(NEW_SHOWN))
def test_the_new_shown_columns_move_the_worklist_version(fresh_url: str, change: str) -> None:
    migrate(fresh_url)
    engine = get_engine(fresh_url)
    _seed(engine, ["1.2.1"])
    _write(engine, *SHOWN["report created"], c=NOW)
    before = _version(engine)
    _write(engine, NEW_SHOWN[change])
    assert _version(engine) > before


def test_down_to_0012_and_up_again(fresh_url: str) -> None:
    migrate(fresh_url)
    engine = get_engine(fresh_url)
    _seed(engine, ["1.2.1"])
    config = alembic_config(engine)
    command.downgrade(config, "0012_retrain_jobs")
    columns = {c["name"] for c in sa.inspect(engine).get_columns("service_study_states")}
    assert not {"status_reason", "views"} & columns
    assert "worker_id" not in {c["name"] for c in sa.inspect(engine).get_columns("service_retrain_jobs")}
    _write(engine, "UPDATE service_study_states SET status = 'signed'")  # no trigger left behind to fail
    command.upgrade(config, "head")
    before = _version(engine)
    _write(engine, NEW_SHOWN["status reason"])
    assert _version(engine) == before + 1
