"""A crash mid-ingest (SIGKILL of a real process) leaves no row without its whole file; a rerun completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import Session, func, select

from medvlm.db import get_engine
from medvlm.db.models import Instance
from medvlm.dicom.ingest import ingest_paths
from medvlm.dicom.store import StudyStore
from medvlm.settings import Settings
from tests.medvlm.dicom.dicom_factory import make_image, write

REPO = Path(__file__).resolve().parents[3]
N_FILES = 400


def _instances(settings: Settings) -> list[Instance]:
    with Session(get_engine(settings.resolved_database_url)) as session:
        return list(session.exec(select(Instance)).all())


def _count(settings: Settings) -> int:
    with Session(get_engine(settings.resolved_database_url)) as session:
        return session.exec(select(func.count()).select_from(Instance)).one()


def test_killed_ingest_leaves_a_consistent_store(settings: Settings, workdir: Path) -> None:
    for i in range(N_FILES):
        write(make_image(rows=96, columns=96, seed=i), workdir / f"{i:04d}.dcm")
    worker = subprocess.Popen(
        [sys.executable, "-c", "import sys; from medvlm.dicom.ingest import ingest_paths; "
                               "ingest_paths([sys.argv[1]])", str(workdir)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _count(settings) == 0 and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    worker.send_signal(signal.SIGKILL)  # mid-way: some batches committed, the next one in flight
    worker.wait()
    committed = _instances(settings)
    assert 0 < len(committed) < N_FILES, "the kill should land mid-ingest"
    store = StudyStore.from_settings(settings)
    assert all(store.verify(i.sha256) for i in committed)  # every row has its whole file
    assert all(store.verify(p.stem) for p in store.files())  # nothing half-written under a final name
    report = ingest_paths([workdir], settings=settings)  # the rerun finishes the job
    assert report.ingested == N_FILES - len(committed) and report.duplicates == len(committed)
    assert _count(settings) == N_FILES


def test_killed_intake_keeps_every_batch_with_its_audit_rows(settings: Settings, workdir: Path) -> None:
    """Killed mid-way through the service's intake: each committed study has its audit row (written in
    its batch's transaction), and the start-up cleanup leaves no file without a row."""
    from datetime import timedelta

    from medvlm.compliance.audit import AuditEvent
    from medvlm.db.models import Study
    from medvlm.dicom.cleanup import clean_store

    for i in range(N_FILES):
        write(make_image(rows=96, columns=96, seed=i), workdir / f"{i:04d}.dcm")
    code = ("import sys; from medvlm.service.intake.intake import Actor, intake; "
            "from medvlm.settings import get_settings; "
            "intake(get_settings(), Actor('cli:crash-test', 'cli'), [sys.argv[1]])")
    worker = subprocess.Popen([sys.executable, "-c", code, str(workdir)],
                              env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _count(settings) == 0 and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    with Session(get_engine(settings.resolved_database_url)) as session:
        studies = set(session.exec(select(Study.study_instance_uid)).all())
        events = session.exec(select(AuditEvent)).all()
        audited = {e.resource_id for e in events if e.action == "study.ingest"}
    assert 0 < len(studies) < N_FILES, "the kill should land mid-ingest"
    assert studies == audited  # no committed batch without its audit rows
    clean_store(settings, grace=timedelta(0))
    store = StudyStore.from_settings(settings)
    indexed = {i.sha256 for i in _instances(settings)}
    assert {p.stem for p in store.files()} == indexed
    assert not list(store.root.glob("*/*/.tmp-*.part"))
