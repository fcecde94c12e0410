"""Migration 0009: the worklist version moves in the same commit as any change a worklist page shows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from medvlm.db import get_engine, migrate
from medvlm.db.migrations_config import alembic_config

NOW = datetime(2024, 5, 1, tzinfo=UTC)
TS = sa.DateTime(timezone=True)
VERSION = sa.text("SELECT n FROM service_worklist_version WHERE id = 1")
SET_CRITICAL = sa.text("UPDATE service_study_states SET critical = :c WHERE study_instance_uid = :u")


def _version(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(VERSION).scalar_one())


def _write(engine: sa.Engine, *statements: str, **params: object) -> None:
    """Run ``statements`` in one transaction, binding the ``params`` each one names."""
    with engine.begin() as conn:
        for statement in statements:
            binds = [
                sa.bindparam(k, v, type_=TS if isinstance(v, datetime) else None)
                for k, v in params.items()
                if f":{k}" in statement
            ]
            conn.execute(sa.text(statement).bindparams(*binds))


def _seed(engine: sa.Engine, uids: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO patients (patient_id, issuer, name, birth_date, sex, created_at) "
                "VALUES ('P1', '', 'Doe^Jane', '', '', :c)"
            ).bindparams(sa.bindparam("c", NOW, type_=TS))
        )
        for uid in uids:
            conn.execute(
                sa.text(
                    "INSERT INTO studies (study_instance_uid, patient_pk, study_date, study_time, "
                    "accession_number, study_id, description, referring_physician, created_at) VALUES "
                    "(:u, (SELECT min(id) FROM patients), '20240501', '', 'A', '', '', '', :c)"
                ).bindparams(sa.bindparam("c", NOW, type_=TS)),
                {"u": uid},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO series (series_instance_uid, study_instance_uid, modality, description, "
                    "body_part, view_position, created_at) VALUES (:s, :u, 'CR', '', '', '', :c)"
                ).bindparams(sa.bindparam("c", NOW, type_=TS)),
                {"s": uid + ".1", "u": uid},
            )


@pytest.fixture
def engine(database_url: str) -> sa.Engine:
    engine = get_engine(database_url)
    _seed(engine, ["1.2.1", "1.2.2"])
    return engine


def test_a_new_database_starts_at_zero(database_url: str) -> None:
    assert _version(get_engine(database_url)) == 0


# Each change a page shows, written as another process would (plain SQL, no service code).
SHOWN: dict[str, tuple[str, ...]] = {
    "status": ("UPDATE service_study_states SET status = 'signed' WHERE study_instance_uid = '1.2.1'",),
    "critical flag": ("UPDATE service_study_states SET critical = :t WHERE study_instance_uid = '1.2.1'",),
    "patient name": ("UPDATE patients SET name = 'Roe^Richard'",),
    "accession": ("UPDATE studies SET accession_number = 'B' WHERE study_instance_uid = '1.2.1'",),
    "description": ("UPDATE studies SET description = 'CHEST PA' WHERE study_instance_uid = '1.2.1'",),
    "modality": ("UPDATE series SET modality = 'DX' WHERE study_instance_uid = '1.2.1'",),
    "series added": (
        "INSERT INTO series (series_instance_uid, study_instance_uid, modality, description, body_part, "
        "view_position, created_at) VALUES ('1.2.1.2', '1.2.1', 'CT', '', '', '', :c)",
    ),
    "series removed": ("DELETE FROM series WHERE study_instance_uid = '1.2.2'",),
    "report created": (
        "INSERT INTO service_reports (id, study_instance_uid, status, version, findings, findings_text, "
        "impression, original, model_version, consistency_flags, input_hashes, created_at, updated_at) "
        "VALUES ('r1', '1.2.1', 'draft', 1, '[]', '', '', '{}', 'm', '[]', '[]', :c, :c)",
    ),
    "study removed": (
        "DELETE FROM series WHERE study_instance_uid = '1.2.2'",
        "DELETE FROM studies WHERE study_instance_uid = '1.2.2'",
    ),
}


@pytest.mark.parametrize("change", list(SHOWN))
def test_every_change_a_page_shows_moves_the_version(engine: sa.Engine, change: str) -> None:
    before = _version(engine)
    _write(engine, *SHOWN[change], t=True, c=NOW)
    assert _version(engine) > before


def test_changes_a_page_does_not_show_leave_the_version(engine: sa.Engine) -> None:
    _write(engine, *SHOWN["report created"], c=NOW)
    before = _version(engine)
    _write(
        engine,
        "UPDATE service_reports SET findings_text = 'edited', impression = 'x', version = 2",  # review edits
        "UPDATE service_study_states SET updated_at = :c",
        "UPDATE patients SET birth_date = '19600101'",
        "UPDATE series SET body_part = 'CHEST'",
        c=NOW,
    )
    assert _version(engine) == before


def test_a_rolled_back_change_leaves_the_version(engine: sa.Engine) -> None:
    before = _version(engine)
    with engine.connect() as conn:
        conn.execute(sa.text(SHOWN["status"][0]))
        conn.rollback()
    assert _version(engine) == before


@pytest.fixture
def postgres_url(postgres_server: object) -> str:
    url = postgres_server.create_database()  # type: ignore[attr-defined]
    migrate(url)
    return url


@pytest.mark.postgres
def test_postgresql_moves_it_once_per_transaction_and_only_at_commit(postgres_url: str) -> None:
    engine = get_engine(postgres_url)
    _seed(engine, [f"1.3.{i}" for i in range(20)])
    before = _version(engine)
    with engine.connect() as conn:
        conn.execute(sa.text("UPDATE service_study_states SET status = 'signed'"))  # 20 rows
        conn.execute(sa.text("UPDATE patients SET name = 'X'"))
        # The counter is not touched (nor locked) before commit: another writer could take its lock now.
        with engine.connect() as other:
            other.execute(sa.text("SELECT n FROM service_worklist_version WHERE id = 1 FOR UPDATE NOWAIT"))
            other.rollback()
        conn.commit()
    assert _version(engine) == before + 1


@pytest.mark.postgres
def test_the_counter_is_locked_last_so_it_adds_no_deadlock(postgres_url: str) -> None:
    """A writes x then y; B writes y while A holds x. Without the counter B commits and A goes on.

    Were the counter moved when a row changes (not at commit), A would hold it from x on, B would wait for
    it while holding y, and A would wait for y: a deadlock the counter alone would have made.
    """
    engine = get_engine(postgres_url)
    _seed(engine, ["1.5.1", "1.5.2"])
    before = _version(engine)
    errors: list[Exception] = []

    def b_writes_y() -> None:
        try:
            with engine.begin() as conn:
                conn.execute(SET_CRITICAL, {"c": True, "u": "1.5.2"})
        except Exception as exc:  # reported below
            errors.append(exc)

    with engine.connect() as a:
        a.execute(SET_CRITICAL, {"c": True, "u": "1.5.1"})
        b = threading.Thread(target=b_writes_y)
        b.start()
        b.join(timeout=0.5)  # B commits now, or waits (on the counter) until A ends
        a.execute(SET_CRITICAL, {"c": False, "u": "1.5.2"})
        a.commit()
    b.join()
    assert errors == []
    assert _version(engine) == before + 2


@pytest.mark.postgres
def test_concurrent_writers_each_move_it_once(postgres_url: str) -> None:
    """Every committed transaction moves the counter by exactly one, however many write at once."""
    engine = get_engine(postgres_url)
    uids = [f"1.4.{i}" for i in range(8)]
    _seed(engine, uids)
    before = _version(engine)
    rounds, errors = 25, []

    def writer(order: list[str]) -> Callable[[], None]:
        def run() -> None:
            try:
                for n in range(rounds):
                    with engine.begin() as conn:
                        for uid in order:
                            conn.execute(SET_CRITICAL, {"c": n % 2 == 0, "u": uid})
            except Exception as exc:  # reported below
                errors.append(exc)

        return run

    # Disjoint rows per writer (so that only the counter is shared), half of them walked backwards.
    slices = [uids[i : i + 2] for i in range(0, len(uids), 2)]
    threads = [threading.Thread(target=writer(s if i % 2 else s[::-1])) for i, s in enumerate(slices)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _version(engine) == before + rounds * len(slices)


def test_downgrade_removes_counter_and_triggers_and_upgrade_restores_them(engine: sa.Engine) -> None:
    config = alembic_config(engine)
    command.downgrade(config, "0008_worklist_covering")
    _write(engine, *SHOWN["status"], *SHOWN["series added"], c=NOW)  # no trigger left behind to fail
    assert "service_worklist_version" not in sa.inspect(engine).get_table_names()
    command.upgrade(config, "head")
    before = _version(engine)
    _write(engine, *SHOWN["patient name"])
    assert _version(engine) == before + 1
