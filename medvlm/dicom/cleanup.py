"""Start-up cleanup of the study store after a crash (kill -9, power loss): files and rows that disagree.

The store writes a file (``.part``, fsync, rename) before the rows that point at it commit, so a crash
can leave a ``.part`` file or a whole file that no row names; neither is ever read. A row whose file is
gone (a disk restored from an older backup, a hand deletion) would fail every read of that instance. The
cleanup removes all three, and leaves alone anything younger than ``grace`` (another process may be
between its file and its commit right now). Removed rows are logged as ``file_missing`` ingest events.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete
from sqlmodel import Session, col, select

from medvlm.db import get_engine
from medvlm.db.models import IngestEvent, Instance
from medvlm.dicom.store import StudyStore
from medvlm.settings import Settings

_CHUNK = 500


@dataclass
class CleanupReport:
    partial_files: list[str] = field(default_factory=list)
    orphan_files: list[str] = field(default_factory=list)
    rows_without_files: list[str] = field(default_factory=list)  # SOP Instance UIDs

    @property
    def changed(self) -> int:
        return len(self.partial_files) + len(self.orphan_files) + len(self.rows_without_files)


def _old(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:  # removed meanwhile
        return False


def _remove(path: Path) -> None:
    path.chmod(0o644)
    path.unlink(missing_ok=True)


def clean_store(settings: Settings, *, grace: timedelta = timedelta(minutes=10)) -> CleanupReport:
    report = CleanupReport()
    store = StudyStore.from_settings(settings)
    cutoff = time.time() - grace.total_seconds()
    if store.root.exists():
        for part in store.root.glob("*/*/.tmp-*.part"):
            if _old(part, cutoff):
                _remove(part)
                report.partial_files.append(str(part))
    engine = get_engine(settings.resolved_database_url)
    files = [p for p in store.files() if _old(p, cutoff)]
    with Session(engine) as session:
        for start in range(0, len(files), _CHUNK):
            chunk = {p.stem: p for p in files[start:start + _CHUNK]}
            indexed = set(session.exec(select(Instance.sha256).where(col(Instance.sha256).in_(list(chunk))))
                          .all())
            for sha, path in chunk.items():
                if sha not in indexed:
                    _remove(path)
                    report.orphan_files.append(str(path))
        missing = [(uid, stored, sha) for uid, stored, sha in session.exec(
            select(Instance.sop_instance_uid, Instance.path, Instance.sha256)).all()
            if not Path(stored).is_file()]
        for uid, stored, sha in missing:
            session.add(IngestEvent(kind="file_missing", sop_instance_uid=uid, sha256=sha, source=stored,
                                    detail="the stored file is gone; the index row was removed at start-up"))
            report.rows_without_files.append(uid)
        if missing:
            gone = [m[0] for m in missing]
            session.execute(delete(Instance).where(col(Instance.sop_instance_uid).in_(gone)))
        session.commit()
    return report
