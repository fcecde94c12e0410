"""Migration 0007: every study has a state row carrying its worklist sort keys, whoever indexed it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from medvlm.db import get_engine, migrate

TS = sa.DateTime(timezone=True)
STATE_KEYS = sa.text(
    "SELECT study_instance_uid, status, critical, study_date, study_created_at FROM service_study_states "
    "ORDER BY study_instance_uid"
).columns(study_created_at=TS)


def _stamped(statement: str) -> sa.TextClause:
    """Times bound as the ORM binds them (SQLite stores its own text format)."""
    return sa.text(statement).bindparams(sa.bindparam("c", type_=TS))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("postgres_server").create_database()


def _add_study(conn: sa.Connection, uid: str, study_date: str, created: datetime) -> None:
    if conn.execute(sa.text("SELECT count(*) FROM patients")).scalar_one() == 0:
        conn.execute(
            _stamped(
                "INSERT INTO patients (patient_id, issuer, name, birth_date, sex, created_at) "
                "VALUES ('P1', '', 'Doe^Jane', '19600101', 'F', :c)"
            ),
            {"c": created},
        )
    conn.execute(
        _stamped(
            "INSERT INTO studies (study_instance_uid, patient_pk, study_date, study_time, accession_number, "
            "study_id, description, referring_physician, created_at) "
            "VALUES (:u, (SELECT min(id) FROM patients), :d, '', '', '', '', '', :c)"
        ),
        {"u": uid, "d": study_date, "c": created},
    )


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:  # SQLite hands times back naive (UTC)
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _keys(url: str) -> list[tuple]:
    with get_engine(url).connect() as conn:
        return [
            (uid, status, bool(critical), date, _naive_utc(created))
            for uid, status, critical, date, created in conn.execute(STATE_KEYS)
        ]


def test_upgrade_backfills_rows_and_keys_for_studies_indexed_before(fresh_url: str) -> None:
    migrate(fresh_url, "0006_audit_lanes")
    t1, t2 = datetime(2026, 1, 1, 9, tzinfo=UTC), datetime(2026, 1, 2, 9, tzinfo=UTC)
    with get_engine(fresh_url).begin() as conn:
        _add_study(conn, "1.2.1", "20240105", t1)  # indexed by `medvlm ingest`: no state row
        _add_study(conn, "1.2.2", "20240301", t2)  # seen by the service: signed, critical
        conn.execute(
            _stamped(
                "INSERT INTO service_study_states (study_instance_uid, status, critical, updated_at) "
                "VALUES ('1.2.2', 'signed', :t, :c)"
            ),
            {"t": True, "c": t2},
        )
    migrate(fresh_url)
    assert _keys(fresh_url) == [
        ("1.2.1", "received", False, "20240105", t1.replace(tzinfo=None)),
        ("1.2.2", "signed", True, "20240301", t2.replace(tzinfo=None)),
    ]


def test_trigger_keeps_one_row_per_study_in_step(fresh_url: str) -> None:
    migrate(fresh_url)
    t1 = datetime(2026, 3, 1, 9, tzinfo=UTC)
    engine = get_engine(fresh_url)
    with engine.begin() as conn:
        _add_study(conn, "1.2.9", "20240105", t1)
    assert _keys(fresh_url) == [("1.2.9", "received", False, "20240105", t1.replace(tzinfo=None))]
    with engine.begin() as conn:  # workflow state set by the service survives a re-index of the study
        conn.execute(
            sa.text("UPDATE service_study_states SET status = 'signed' WHERE study_instance_uid = '1.2.9'")
        )
        conn.execute(sa.text("UPDATE studies SET study_date = '20231231' WHERE study_instance_uid = '1.2.9'"))
    assert _keys(fresh_url) == [("1.2.9", "signed", False, "20231231", t1.replace(tzinfo=None))]
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM studies WHERE study_instance_uid = '1.2.9'"))
    assert _keys(fresh_url) == []
