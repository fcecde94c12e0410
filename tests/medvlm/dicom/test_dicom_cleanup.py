"""Start-up cleanup (issue #19 item 9): partial and orphan files and rows without files are removed,
anything younger than the grace period is left to the process that may still be writing it."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, select

from medvlm.db import get_engine
from medvlm.db.models import IngestEvent, Instance
from medvlm.dicom.cleanup import clean_store
from medvlm.dicom.ingest import ingest_bytes
from medvlm.dicom.store import StudyStore, content_sha256
from medvlm.settings import Settings
from tests.medvlm.dicom.dicom_factory import make_image, to_bytes


def _age(path: Path, seconds: float = 3600) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_cleanup_removes_what_a_crash_leaves(settings: Settings) -> None:
    kept = to_bytes(make_image(seed=1))
    ingest_bytes("kept.dcm", kept, settings=settings)
    lost = to_bytes(make_image(seed=2))
    ingest_bytes("lost.dcm", lost, settings=settings)
    store = StudyStore.from_settings(settings)
    lost_path = store.path(content_sha256(lost))
    lost_path.chmod(0o644)
    lost_path.unlink()  # a row without its file
    orphan = store.put(to_bytes(make_image(seed=3)))  # a file without its row (killed before the commit)
    young_orphan = store.put(to_bytes(make_image(seed=4)))  # maybe another process, mid-batch
    part = orphan.parent / ".tmp-abc.part"
    part.write_bytes(b"half a file")
    for path in (orphan, part, *store.files()):
        if path != young_orphan:
            _age(path)
    report = clean_store(settings, grace=timedelta(minutes=10))
    assert report.partial_files == [str(part)] and report.orphan_files == [str(orphan)]
    assert len(report.rows_without_files) == 1
    assert not part.exists() and not orphan.exists() and young_orphan.exists()
    with Session(get_engine(settings.resolved_database_url)) as session:
        [row] = session.exec(select(Instance)).all()
        events = [e for e in session.exec(select(IngestEvent)).all() if e.kind == "file_missing"]
    assert store.verify(row.sha256) and len(events) == 1
    assert clean_store(settings, grace=timedelta(0)).orphan_files == [str(young_orphan)]
    assert clean_store(settings).changed == 0
