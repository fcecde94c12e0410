"""Studies ingested with ``medvlm ingest``: their stored files, found by Study Instance UID (no torch here,
so the CLI can name a wrong UID before loading a model)."""

from __future__ import annotations

from pathlib import Path

from medvlm.errors import NotFoundError
from medvlm.settings import Settings


def study_files(study_uid: str, settings: Settings | None = None) -> list[Path]:
    """The stored files of an ingested study (NotFoundError if there is none)."""
    from sqlmodel import col, select

    from medvlm.db import session_scope
    from medvlm.db.models import Instance, Series
    from medvlm.registry.registry import ready_engine

    with session_scope(ready_engine(settings)) as session:
        on_series = col(Series.series_instance_uid) == Instance.series_instance_uid
        query = select(Instance.path).join(Series, on_series).where(Series.study_instance_uid == study_uid)
        paths = [Path(p) for p in session.exec(query).all()]
    if not paths:
        raise NotFoundError(f"no file or folder {study_uid!r}, and no ingested study with that UID "
                            "(ingest it first with `medvlm ingest`)")
    return paths
