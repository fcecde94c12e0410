"""Two real processes ingesting the same folder at the same time: no duplicate rows, no corrupt files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import Session, func, select

from medvlm.db import get_engine
from medvlm.db.models import IngestEvent, Instance, Patient, Series, Study
from medvlm.dicom.store import StudyStore
from medvlm.settings import Settings
from tests.medvlm.dicom.dicom_factory import make_image, write

N_STUDIES, PER_STUDY = 6, 25
REPO = Path(__file__).resolve().parents[3]

# Each worker imports everything, says it is ready, then waits for the go file, so that both really
# ingest at once. The second walks the studies in reverse order so the two meet in the middle.
WORKER = """
import json, os, pathlib, sys, time
from medvlm.dicom.ingest import ingest_paths
folder, go, ready, reverse = sys.argv[1:5]
pathlib.Path(ready).touch()
while not os.path.exists(go):
    time.sleep(0.005)
studies = sorted(pathlib.Path(folder).iterdir(), reverse=reverse == "1")
report = ingest_paths(studies)
print(json.dumps(report.to_json()))
"""


def _count(session: Session, table: type) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def test_two_processes_ingest_the_same_folder(settings: Settings, workdir: Path, tmp_path: Path) -> None:
    for s in range(N_STUDIES):
        first = make_image(seed=1000 * s, patient_id="SAME")
        for i in range(PER_STUDY):
            ds = make_image(seed=1000 * s + i, study_uid=first.StudyInstanceUID,
                            series_uid=first.SeriesInstanceUID, patient_id="SAME", InstanceNumber=i + 1)
            write(ds, workdir / f"study{s}" / f"{i:03d}.dcm")
    total = N_STUDIES * PER_STUDY
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ready = [tmp_path / f"ready{n}" for n in range(2)]
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(workdir), str(go), str(ready[n]), str(n)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for n in range(2)]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))

    assert sum(r["ingested"] for r in reports) == total
    assert all(r["ingested"] + r["duplicates"] == total for r in reports), reports
    assert all(r["conflicts"] == 0 and r["rejected"] == [] for r in reports), reports
    with Session(get_engine(settings.resolved_database_url)) as session:
        assert _count(session, Instance) == total
        assert _count(session, Series) == N_STUDIES and _count(session, Study) == N_STUDIES
        assert _count(session, Patient) == 1
        assert session.exec(select(func.count()).select_from(IngestEvent)
                            .where(IngestEvent.kind == "stored")).one() == total
        instances = list(session.exec(select(Instance)).all())
    store = StudyStore.from_settings(settings)
    assert all(store.verify(i.sha256) and Path(i.path) == store.path(i.sha256) for i in instances)
    leftovers = [p for p in store.root.rglob("*") if p.is_file() and not p.name.endswith(".dcm")]
    assert leftovers == [] and len(store.files()) == total
