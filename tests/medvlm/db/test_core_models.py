"""The DICOM index tables: migration 0001_core matches the SQLModel definitions, and the keys hold."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from medvlm.db import get_engine
from medvlm.db.migrations_config import migration_folders
from medvlm.db.models import Instance, Patient, Series, Study

migration_folders()  # registers every layer's tables on SQLModel.metadata

CORE_TABLES = {"patients", "studies", "series", "instances", "ingest_events"}


def _table_of(diff: tuple) -> str | None:
    for item in diff[1:]:
        table = getattr(item, "table", None)
        if isinstance(item, sa.Table):
            return item.name
        if table is not None:
            return table.name
        if isinstance(item, str) and item in CORE_TABLES:
            return item
    return None


def _index_key(index: sa.Index) -> tuple[str, tuple[str, ...]]:
    """Name and column names, sort direction dropped (``study_date DESC`` -> ``study_date``)."""
    names = []
    for expr in index.expressions:
        element = getattr(expr, "element", expr)  # UnaryExpression (DESC) -> its column
        names.append(str(getattr(element, "name", element)).strip('"').split()[0])
    return index.name or "", tuple(names)


def _without_sort_order_only(diffs: list) -> list:
    """SQLite does not reflect an index's sort order, so alembic reports a DESC index as removed and
    added again; such a pair (same name, same columns) is not a difference."""
    added = {_index_key(d[1]) for d in diffs if d[0] == "add_index"}
    removed = {_index_key(d[1]) for d in diffs if d[0] == "remove_index"}
    same = added & removed
    return [d for d in diffs if not (d[0] in ("add_index", "remove_index") and _index_key(d[1]) in same)]


def test_migration_builds_exactly_the_core_tables(database_url: str) -> None:
    engine = get_engine(database_url)
    assert set(sa.inspect(engine).get_table_names()) >= CORE_TABLES
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    flat = [d[0] if isinstance(d, list) else d for d in diff]
    ours = [d for d in flat if _table_of(d) in CORE_TABLES]
    if database_url.startswith("sqlite"):
        ours = _without_sort_order_only(ours)
    assert ours == []  # columns, types, nullability, indexes and unique constraints all agree


def _instance(uid: str, series_uid: str) -> Instance:
    return Instance(sop_instance_uid=uid, series_instance_uid=series_uid, sop_class_uid="1.2", rows=1,
                    columns=1, photometric="MONOCHROME2", bits_allocated=8, bits_stored=8, sha256="0" * 64,
                    path="/x", size_bytes=1)


def test_keys_and_foreign_keys_are_enforced(database_url: str) -> None:
    engine = get_engine(database_url)
    with Session(engine) as session:
        patient = Patient(patient_id="P", issuer="")
        session.add(patient)
        session.flush()
        session.add(Study(study_instance_uid="1.1", patient_pk=patient.id))
        session.flush()
        session.add(Series(series_instance_uid="1.1.1", study_instance_uid="1.1", modality="CR"))
        session.flush()
        session.add(_instance("1.1.1.1", "1.1.1"))
        session.commit()
    cases = [
        lambda s: s.add(_instance("1.1.1.1", "1.1.1")),  # same SOP Instance UID
        lambda s: s.add(Patient(patient_id="P", issuer="")),  # same patient id and issuer
        lambda s: s.add(Series(series_instance_uid="9.9", study_instance_uid="no.such.study")),
        lambda s: s.add(_instance("2.2", "no.such.series")),
    ]
    for add in cases:
        with Session(engine) as session, pytest.raises(IntegrityError):
            add(session)
            session.commit()
