"""A real MedVLM service for the browser tests: uvicorn + the drafting worker, SQLite, a tiny model.

The helpers live here (importable as ``tests.ui.live``); ``conftest.py`` turns them into fixtures.

Started once per module (it costs a model build and one real draft), stopped by PID. The chest film
RG1_UNCI (1955x1841, 15-bit, MONOCHROME1) from the ``pydicom-data`` wheel is uploaded through the API
and drafted by the service's own worker, exactly as a PACS upload would be.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from subprocess import STDOUT
from typing import Any

import httpx

from tests.medvlm.dicom.dicom_factory import pydicom_data_file
from tests.support.processes import free_port, stop_process, wait_healthy

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
USERNAME = "dr.ui"
PASSWORD = "correct-horse-battery-ui"
CORPUS = [
    "The lungs are clear. No pleural effusion or pneumothorax.",
    "Heart size is normal. The mediastinal contours are unremarkable.",
    "Small right pleural effusion with adjacent atelectasis.",
    "Impression: no acute cardiopulmonary abnormality.",
]


def film_path() -> Path:
    """RG1_UNCI, a real 15-bit MONOCHROME1 chest film from the pydicom-data wheel (never downloaded)."""
    return pydicom_data_file("RG1_UNCI.dcm")


def login(page: Any, base_url: str) -> None:
    """Sign in through the login form as the test radiologist; returns once the worklist has rows."""
    page.goto(f"{base_url}/")
    page.fill("#username", USERNAME)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#worklist-body tr")


@dataclass
class LiveService:
    base_url: str
    database_url: str
    study_uid: str
    report_id: str
    token: str
    logs: Path
    # A synthetic DX chest film (patient 2DX2, 2004-01-19): a second study for the tests that must not sign
    # the film (a CT would be outside intended use and never drafted).
    second_study_uid: str
    second_report_id: str

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.base_url}/api/v1/{path}", headers=headers, timeout=60, **kwargs)


def _build_tiny_model(model_dir: Path) -> None:
    from medvlm.model import build_model
    from medvlm.ontology import load_ontology

    build_model("tiny", load_ontology(), tokenizer_corpus=CORPUS, seed=0).save(model_dir)


def _create_user(database_url: str) -> None:
    from medvlm.db import get_engine, migrate, session_scope
    from medvlm.service.api.routes.users import create_user

    migrate(database_url)
    engine = get_engine(database_url)
    with session_scope(engine) as session:
        create_user(session, USERNAME, PASSWORD, "radiologist")
    engine.dispose()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    stop_process(proc, signal.SIGTERM, timeout=20)


def _login_token(base_url: str) -> str:
    login = httpx.post(f"{base_url}/api/v1/auth/login", timeout=30,
                       json={"username": USERNAME, "password": PASSWORD})
    login.raise_for_status()
    return str(login.json()["access_token"])


def _upload(base_url: str, token: str, film: Path) -> str:
    with film.open("rb") as handle:
        upload = httpx.post(f"{base_url}/api/v1/studies", headers={"Authorization": f"Bearer {token}"},
                            timeout=120, files={"files": (film.name, handle, "application/dicom")})
    assert upload.status_code == 202, upload.text
    return str(upload.json()["study_instance_uids"][0])


def _wait_drafted(base_url: str, token: str, study_uid: str, logs: Path) -> str:
    """The report id once the service's worker has drafted ``study_uid``."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        jobs = httpx.get(f"{base_url}/api/v1/jobs", params={"study_uid": study_uid},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
        jobs.raise_for_status()
        body = jobs.json()
        items = body["items"] if isinstance(body, dict) else body
        if items and items[0]["status"] == "done":
            return str(items[0]["report_id"])
        if items and items[0]["status"] == "failed":
            raise RuntimeError(f"drafting failed: {items[0].get('last_error')}")
        time.sleep(0.5)
    tail = "\n".join(p.read_text()[-2000:] for p in logs.glob("*.log"))
    raise RuntimeError(f"the worker did not draft the study in time:\n{tail}")


def _second_film(path: Path) -> Path:
    import io

    import pydicom

    from tests.service.helpers import chest_dicom_bytes

    ds = pydicom.dcmread(io.BytesIO(chest_dicom_bytes()))
    ds.Modality, ds.StudyDate, ds.PatientID = "DX", "20040119", "2DX2"
    ds.save_as(path, enforce_file_format=True)
    return path


@contextmanager
def running_service(root: Path) -> Iterator[LiveService]:
    """uvicorn serving ``service.app:create_app`` + one worker process; two studies uploaded and drafted."""
    film = film_path()
    database_url = f"sqlite:///{root / 'medvlm.db'}"
    _create_user(database_url)
    _build_tiny_model(root / "model")
    env = {**os.environ, "MEDVLM_DATA_DIR": str(root / "data"), "MEDVLM_DATABASE_URL": database_url,
           "MEDVLM_ENVIRONMENT": "test", "MEDVLM_MODEL_DIR": str(root / "model"),
           "MEDVLM_SECRET_KEY": "ui-test-secret-0123456789abcdef0123456789abcdef", "PYTHONUNBUFFERED": "1"}
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    logs = root / "logs"
    logs.mkdir()
    try:
        with (logs / "server.log").open("wb") as server_log, (logs / "worker.log").open("wb") as worker_log:
            server = [sys.executable, "-m", "uvicorn", "--factory", "medvlm.service.app:create_app",
                      "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
            procs.append(subprocess.Popen(server, cwd=REPO, env=env, stdout=server_log, stderr=STDOUT))
            wait_healthy(base_url, procs[0], seconds=90, log=logs / "server.log")
            worker = [sys.executable, "-m", "medvlm.service.jobs.worker", "--poll-seconds", "0.2"]
            procs.append(subprocess.Popen(worker, cwd=REPO, env=env, stdout=worker_log, stderr=STDOUT))
            token = _login_token(base_url)
            study_uid = _upload(base_url, token, film)
            second_uid = _upload(base_url, token, _second_film(root / "second.dcm"))
            report_id = _wait_drafted(base_url, token, study_uid, logs)
            second_report = _wait_drafted(base_url, token, second_uid, logs)
            _stop(procs.pop())  # drafts done; free the CPU (regenerate runs inside the server)
            yield LiveService(base_url, database_url, study_uid, report_id, token, logs,
                              second_uid, second_report)
    finally:
        for proc in procs:
            _stop(proc)
