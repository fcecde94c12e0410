"""Migration 0008: a worklist page is read from the worklist index alone (PostgreSQL, all-visible pages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from medvlm.db import get_engine, migrate
from medvlm.service.studies.worklist import _page_statement, _Shape

TS = sa.DateTime(timezone=True)


@pytest.mark.postgres
@pytest.mark.parametrize("status", [False, True], ids=["no filter", "status filter"])
def test_a_page_is_an_index_only_scan(postgres_server: object, status: bool) -> None:
    url = postgres_server.create_database()  # type: ignore[attr-defined]
    migrate(url)
    engine = get_engine(url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO patients (patient_id, issuer, name, birth_date, sex, created_at) "
                             "VALUES ('P1', '', 'Doe^Jane', '19600101', 'F', :c)").bindparams(
                                 sa.bindparam("c", type_=TS)), {"c": start})
        conn.execute(
            sa.text("INSERT INTO studies (study_instance_uid, patient_pk, study_date, study_time, "
                    "accession_number, study_id, description, referring_physician, created_at) "
                    "VALUES (:u, (SELECT min(id) FROM patients), :d, '', '', '', '', '', :c)").bindparams(
                        sa.bindparam("c", type_=TS)),
            [{"u": f"1.2.{i}", "d": f"2024{1 + i % 12:02d}01", "c": start + timedelta(minutes=i)}
             for i in range(3000)],
        )
        conn.execute(sa.text("UPDATE service_study_states SET status = 'draft_ready' "
                             "WHERE study_instance_uid LIKE '%0' OR study_instance_uid LIKE '%5'"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))  # what autovacuum does: pages all-visible, statistics fresh
    page, _ = _page_statement(_Shape(status, False, False, False, False, False, lateral=True))
    params = {"offset": 500, "limit": 50} | ({"status": "draft_ready"} if status else {})
    compiled = page.compile(dialect=engine.dialect)
    with engine.connect() as conn:
        plan = "\n".join(row[0] for row in conn.exec_driver_sql(
            "EXPLAIN " + compiled.string, {**{k: b.value for k, b in compiled.binds.items()}, **params}))
    index = "ix_study_states_worklist_status" if status else "ix_study_states_worklist"
    assert f"Index Only Scan using {index} on service_study_states" in plan, plan
