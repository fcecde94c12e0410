"""Priors from a real PACS: Orthanc (loopback-only namespace) holds several studies of one patient and one
of another; the service finds the patient's earlier study by C-FIND, retrieves it by C-GET into the store,
and lists it beside the current study with its signed report. SQLite (PostgreSQL lives outside the
namespace)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from fastapi.testclient import TestClient
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from sqlmodel import Session, select

from medvlm.findings import Finding, Presence
from medvlm.pacs.query import find_studies
from medvlm.service.app import create_app
from medvlm.service.db.tables import DraftJob, StudyState
from medvlm.service.intake.intake import queue_undrafted
from medvlm.service.workflow import reports as wf
from medvlm.service.workflow.draft_output import DraftOutput
from medvlm.settings import Settings, get_settings
from tests.service.conftest import SECRET
from tests.service.helpers import make_user, token_for
from tests.support.orthanc import DICOMWEB_PLUGIN, OrthancServer, inside, running_orthanc
from tests.support.processes import free_port
from tests.support.services import missing_service

pytestmark = pytest.mark.integration
API = "/api/v1"
PRIOR, CURRENT, LATER, OTHER = (generate_uid() for _ in range(4))


def _study(study_uid: str, patient_id: str, date: str) -> bytes:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = study_uid, generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientID, ds.StudyDate, ds.AccessionNumber = patient_id, date, f"ACC{date}"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


STUDIES = {
    PRIOR: ("PAT-1", "20230105"),
    CURRENT: ("PAT-1", "20240601"),
    LATER: ("PAT-1", "20250101"),
    OTHER: ("PAT-2", "20230105"),
}


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    if not os.path.exists(DICOMWEB_PLUGIN):
        missing_service(f"Orthanc's DICOMweb plugin (Debian orthanc-dicomweb, {DICOMWEB_PLUGIN})")
    modalities = {"medvlm": ("MEDVLM", "127.0.0.1", 11112)}
    with running_orthanc(tmp_path_factory.mktemp("orthanc"), modalities, [DICOMWEB_PLUGIN]) as server:
        if server is None:
            missing_service("Orthanc (Debian orthanc) in a loopback-only network namespace (ip netns)")
        with inside(server):
            for uid, (patient, date) in STUDIES.items():
                server.rest("POST", "/instances", _study(uid, patient, date))
        yield server


def _settings(monkeypatch: pytest.MonkeyPatch, orthanc: OrthancServer, port: int | None = None) -> Settings:
    monkeypatch.setenv("MEDVLM_SECRET_KEY", SECRET)
    monkeypatch.setenv("MEDVLM_PACS_HOST", "127.0.0.1")
    monkeypatch.setenv("MEDVLM_PACS_PORT", str(port or orthanc.dicom_port))
    monkeypatch.setenv("MEDVLM_PACS_AE_TITLE", orthanc.ae_title)
    monkeypatch.setenv("MEDVLM_PACS_TIMEOUT_SECONDS", "10")
    get_settings.cache_clear()
    return get_settings()


def test_find_studies_matches_the_patient_exactly(orthanc: OrthancServer) -> None:
    with inside(orthanc):
        found = find_studies("127.0.0.1", orthanc.dicom_port, patient_id="PAT-1", called_ae=orthanc.ae_title)
    assert [(m.study_instance_uid, m.study_date) for m in found] == [
        (LATER, "20250101"),
        (CURRENT, "20240601"),
        (PRIOR, "20230105"),
    ]


@pytest.mark.parametrize("protocol", ["dimse", "dicomweb"])
def test_prior_is_fetched_listed_and_not_worklisted(
    orthanc: OrthancServer, sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    settings = _settings(monkeypatch, orthanc)
    if protocol == "dicomweb":  # QIDO-RS + WADO-RS (dicomweb-client) instead of C-FIND + C-GET
        monkeypatch.setenv("MEDVLM_PACS_HOST", "")
        monkeypatch.setenv("MEDVLM_PACS_DICOMWEB_URL", f"http://127.0.0.1:{orthanc.http_port}/dicom-web")
        get_settings.cache_clear()
        settings = get_settings()
    app = create_app(settings)
    with Session(app.state.engine) as session:
        headers = {
            "Authorization": f"Bearer {token_for(session, SECRET, make_user(session, 'rad', 'radiologist'))}"
        }
        session.commit()
    # Threads started inside the namespace stay there: the client's event loop and the route threads.
    with inside(orthanc), TestClient(app, raise_server_exceptions=False) as client:
        up = client.post(
            f"{API}/studies",
            headers=headers,
            files=[("files", ("c.dcm", _study(CURRENT, "PAT-1", "20240601"), "application/dicom"))],
        )
        assert up.status_code == 202, up.text
        assert client.get(f"{API}/studies/{CURRENT}/priors", headers=headers).json() == []

        fetched = client.post(f"{API}/studies/{CURRENT}/priors/fetch", headers=headers)
        assert fetched.status_code == 200, fetched.text
        # the later study and the other patient's are not priors of this one
        assert fetched.json() == {
            "found": [PRIOR],
            "retrieved": [PRIOR],
            "already_stored": [],
            "instances": 1,
        }
        again = client.post(f"{API}/studies/{CURRENT}/priors/fetch", headers=headers).json()
        assert again["retrieved"] == [] and again["already_stored"] == [PRIOR]

        with Session(app.state.engine) as session:
            assert session.get(StudyState, PRIOR).status == "prior"  # type: ignore[union-attr]
            assert session.exec(select(DraftJob.study_instance_uid)).all() == [CURRENT]  # prior not drafted
            draft = DraftOutput(
                findings=[Finding("cardiomegaly", Presence.PRESENT, probability=0.9)],
                findings_text="Enlarged heart.",
                impression="Cardiomegaly.",
                model_version="m1",
            )
            report = wf.save_draft(session, PRIOR, draft, author="model:m1")
            wf.sign(session, report, author="rad")
            session.commit()
        [prior] = client.get(f"{API}/studies/{CURRENT}/priors", headers=headers).json()
        assert (prior["study_instance_uid"], prior["study_date"], prior["report_status"]) == (
            PRIOR,
            "20230105",
            "signed",
        )
        assert prior["impression"] == "Cardiomegaly." and prior["signed_by"] == "rad"
        worklist = client.get(f"{API}/studies", params={"status": "prior"}, headers=headers).json()
        assert [i["study_instance_uid"] for i in worklist["items"]] == []  # signed now, so no longer 'prior'


def test_pacs_failures_are_named(
    orthanc: OrthancServer, sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = create_app(_settings(monkeypatch, orthanc, port=free_port()))  # nothing listens there
    with Session(app.state.engine) as session:
        headers = {
            "Authorization": f"Bearer {token_for(session, SECRET, make_user(session, 'rad', 'radiologist'))}"
        }
        session.commit()
    with inside(orthanc), TestClient(app, raise_server_exceptions=False) as client:
        client.post(
            f"{API}/studies",
            headers=headers,
            files=[("files", ("c.dcm", _study(CURRENT, "PAT-1", "20240601"), "application/dicom"))],
        )
        down = client.post(f"{API}/studies/{CURRENT}/priors/fetch", headers=headers)
        assert down.status_code == 502 and "cannot connect" in down.json()["detail"]
        wild = _study(generate_uid(), "PAT*", "20240601")
        uid = pydicom.dcmread(io.BytesIO(wild)).StudyInstanceUID
        client.post(
            f"{API}/studies", headers=headers, files=[("files", ("w.dcm", wild, "application/dicom"))]
        )
        refused = client.post(f"{API}/studies/{uid}/priors/fetch", headers=headers)
        assert refused.status_code == 422 and "wildcard" in refused.json()["detail"]
    monkeypatch.setenv("MEDVLM_PACS_HOST", "")
    get_settings.cache_clear()
    with TestClient(create_app(get_settings()), raise_server_exceptions=False) as client:
        off = client.post(f"{API}/studies/{CURRENT}/priors/fetch", headers=headers)
        assert off.status_code == 409 and "MEDVLM_PACS_HOST" in off.json()["detail"]


@pytest.mark.parametrize("pacs_up", [True, False])
def test_worker_fetches_priors_before_drafting(
    orthanc: OrthancServer, sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch, pacs_up: bool
) -> None:
    """MEDVLM_PRIORS_AUTO_FETCH: the worker brings the prior in, and the draft names its date; a PACS that
    does not answer costs the draft only that line."""
    from medvlm.db import get_engine
    from medvlm.dicom.ingest import ingest_bytes
    from medvlm.service.db.tables import Report
    from medvlm.service.jobs.worker import Worker
    from tests.service.helpers import PixelDrafter

    settings = _settings(monkeypatch, orthanc, port=None if pacs_up else free_port())
    monkeypatch.setenv("MEDVLM_PRIORS_AUTO_FETCH", "1")
    get_settings.cache_clear()
    settings = get_settings()
    ingest_bytes("current.dcm", _study(CURRENT, "PAT-1", "20240601"), settings=settings)
    engine = get_engine(settings.resolved_database_url)
    assert queue_undrafted(engine, settings.model_copy(update={"job_max_attempts": 1})) == 1
    with inside(orthanc):
        assert Worker(engine, PixelDrafter).run_once()
    with Session(engine) as session:
        report = session.exec(select(Report).where(Report.study_instance_uid == CURRENT)).one()
        prior = session.get(StudyState, PRIOR)
    if pacs_up:
        assert report.findings_text.splitlines()[0] == "Comparison: prior study dated 2023-01-05."
        assert prior is not None and prior.status == "prior"
    else:
        assert not report.findings_text.startswith("Comparison") and prior is None
