"""Intended use in the browser (issue #21): the worklist shows why a study was not drafted (apart from a
technical failure, filterable), marks drafts by an unvalidated model and lists a lateral as the second
view; on the review page a radiologist clicks "Draft anyway", confirms a dialog that states the reason and
the warning banner, and the audited draft arrives under that banner and the unfamiliar-film banner (the
model's familiarity is fitted on chest films); back on the worklist its row is marked "Outside intended use
— drafted on request" and "Unfamiliar film" beside "Draft ready".

A service of its own (server + a worker that keeps running), so that its studies leave the shared
service's worklist filters alone. The model is a pinned directory outside the registry: every draft is
an unvalidated model's.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from subprocess import STDOUT
from typing import Any

import httpx
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from sqlalchemy import create_engine, text

from tests.support.familiarity import fit_on_chest_films
from tests.support.processes import free_port, wait_healthy
from tests.ui.live import ARTIFACTS, PASSWORD, REPO, USERNAME, _build_tiny_model, _create_user, _stop, login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def _mr_study() -> tuple[str, bytes]:
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientID, ds.StudyDate, ds.AccessionNumber = "UIGATE1", "20020301", "UIGATEMR"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return str(ds.StudyInstanceUID), buffer.getvalue()


def _chest_views(views: list[str]) -> tuple[str, list[bytes]]:
    """One study of synthetic chest films, one instance per ViewPosition (PA, LL, ...)."""
    from tests.service.helpers import chest_dicom_bytes

    study, series, files = generate_uid(), generate_uid(), []
    for number, view in enumerate(views, start=1):
        ds = pydicom.dcmread(io.BytesIO(chest_dicom_bytes(study_uid=study)))
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.ViewPosition, ds.InstanceNumber = view, number
        ds.PatientID, ds.StudyDate, ds.AccessionNumber = "UIGATE2", "20020302", f"UIGATE{''.join(views)}"
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        files.append(buffer.getvalue())
    return study, files


class GateService:
    def __init__(self, base_url: str, database_url: str, token: str) -> None:
        self.base_url, self.database_url, self.token = base_url, database_url, token
        self.uids: dict[str, str] = {}

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.base_url}/api/v1/{path}", headers=headers, timeout=120, **kwargs)

    def upload(self, name: str, uid: str, files: list[bytes]) -> None:
        parts = [("files", (f"{name}{i}.dcm", data, "application/dicom")) for i, data in enumerate(files)]
        assert self.api("POST", "studies", files=parts).status_code == 202
        self.uids[name] = uid

    def wait_job(self, uid: str, done: tuple[str, ...] = ("done", "failed")) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            jobs = self.api("GET", "jobs", params={"study_uid": uid}).json()
            if jobs and jobs[0]["status"] in done:
                return jobs[0]  # type: ignore[no-any-return]
            time.sleep(0.3)
        raise AssertionError(f"no job of {uid} finished")


@pytest.fixture(scope="module")
def gate_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GateService]:
    root = tmp_path_factory.mktemp("gate-ui")
    database_url = f"sqlite:///{root / 'medvlm.db'}"
    _create_user(database_url)
    _build_tiny_model(root / "model")
    fit_on_chest_films(root / "model")  # its films (those of chest_dicom_bytes) are familiar; an MR is not
    env = {**os.environ, "MEDVLM_DATA_DIR": str(root / "data"), "MEDVLM_DATABASE_URL": database_url,
           "MEDVLM_ENVIRONMENT": "test", "MEDVLM_MODEL_DIR": str(root / "model"),
           "MEDVLM_SECRET_KEY": "ui-test-secret-0123456789abcdef0123456789abcdef", "PYTHONUNBUFFERED": "1"}
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with (root / "server.log").open("wb") as server_log, (root / "worker.log").open("wb") as worker_log:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "medvlm.service.app:create_app", "--host",
                 "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                cwd=REPO, env=env, stdout=server_log, stderr=STDOUT))
            wait_healthy(base_url, procs[0], seconds=90, log=root / "server.log")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "medvlm.service.jobs.worker", "--poll-seconds", "0.2"],
                cwd=REPO, env=env, stdout=worker_log, stderr=STDOUT))
            login = httpx.post(f"{base_url}/api/v1/auth/login", json={"username": USERNAME,
                                                                      "password": PASSWORD}, timeout=30)
            service = GateService(base_url, database_url, login.json()["access_token"])
            service.upload("mr", *(lambda u, d: (u, [d]))(*_mr_study()))
            service.upload("pa_lateral", *_chest_views(["PA", "LL"]))
            service.upload("lateral_only", *_chest_views(["LL"]))
            for uid in service.uids.values():
                service.wait_job(uid)
            yield service
    finally:
        for proc in procs:
            _stop(proc)


def _row(page: Any, uid: str) -> Any:
    return page.locator(f'#worklist-body tr[data-uid="{uid}"]')


def test_worklist_shows_the_gate_reason_unvalidated_drafts_and_the_lateral(
    gate_service: GateService, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1600, "height": 900}, bypass_csp=True)
    page = context.new_page()
    login(page, gate_service.base_url)
    uids = gate_service.uids
    mr, lateral_only = _row(page, uids["mr"]), _row(page, uids["lateral_only"])
    both = _row(page, uids["pa_lateral"])
    assert mr.locator(".badge.status-not_drafted").inner_text() == "Outside intended use"
    assert mr.locator(".status-reason").inner_text().startswith("Outside intended use: modality MR")
    assert "lateral chest view only" in lateral_only.locator(".status-reason").inner_text()
    assert both.locator(".badge-unvalidated").inner_text() == "Unvalidated model"
    assert both.locator(".views").inner_text() == "PA + lateral (LL)"
    assert page.locator("#worklist-body .badge-override").count() == 0  # nobody has drafted one anyway yet
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "worklist-intended-use.png"), full_page=True)
    both.click()  # the review page names the views too: the lateral is the second view, not the read
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert "PA (frontal, read) + lateral LL (second view)" in page.locator("#patient-meta").inner_text()
    assert page.locator("#unfamiliar-banner").is_hidden()  # the model's own kind of film
    assert "(unvalidated model)" in page.locator("#model-version").inner_text()
    page.screenshot(path=str(ARTIFACTS / "review-frontal-and-lateral.png"))
    page.goto(f"{gate_service.base_url}/")
    page.wait_for_selector("#worklist-body tr")
    page.select_option("#status", "not_drafted")  # filterable: the refused studies only
    page.wait_for_function("document.querySelectorAll('#worklist-body tr').length === 2")
    listed = {page.locator("#worklist-body tr").nth(i).get_attribute("data-uid") for i in range(2)}
    assert listed == {uids["mr"], uids["lateral_only"]}
    context.close()


def test_radiologist_drafts_a_refused_study_anyway(gate_service: GateService, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, bypass_csp=True)
    page = context.new_page()
    uid = gate_service.uids["mr"]
    login(page, gate_service.base_url)
    page.goto(f"{gate_service.base_url}/review/{uid}")
    page.wait_for_selector("#override-panel:not([hidden])", timeout=30_000)
    assert "modality MR" in page.locator("#refusal-reason").inner_text()
    button = page.locator("#draft-anyway")
    assert button.is_visible()
    page.screenshot(path=str(ARTIFACTS / "review-refused-override.png"))
    button.click()  # the real button
    dialog = page.locator("#override-dialog")
    dialog.wait_for(state="visible")
    assert "modality MR" in dialog.inner_text() and "warning banner" in dialog.inner_text()
    page.fill("#override-why", "clinician insists")
    page.screenshot(path=str(ARTIFACTS / "review-override-dialog.png"))
    page.click("#override-confirm")
    result = page.locator("#override-result")
    result.wait_for(state="visible")
    assert "recorded in the audit trail" in result.inner_text() and USERNAME in result.inner_text()
    page.wait_for_selector(".flag-msg:has-text('DRAFTED OUTSIDE INTENDED USE')", timeout=120_000)
    banner = page.locator("#intended-use-banner")  # and the warning banner over the draft
    assert banner.is_visible() and "DRAFTED OUTSIDE INTENDED USE" in banner.inner_text()
    assert f"{USERNAME} (clinician insists)" in banner.inner_text()
    unfamiliar = page.locator("#unfamiliar-banner")  # an MR is nothing like the model's chest films
    assert unfamiliar.is_visible() and "unlike the films the model was trained on" in unfamiliar.inner_text()
    assert page.locator("#override-panel").is_hidden()
    page.screenshot(path=str(ARTIFACTS / "review-drafted-outside-intended-use.png"))
    page.goto(f"{gate_service.base_url}/")  # the worklist row says so too, not just "Draft ready"
    row = _row(page, uid)
    row.locator(".badge-override").wait_for(timeout=30_000)
    assert row.locator(".badge.status-draft_ready").inner_text() == "Draft ready"
    assert row.locator(".badge-override").inner_text() == "Outside intended use — drafted on request"
    assert row.locator(".badge-unfamiliar").inner_text() == "Unfamiliar film"
    familiar = _row(page, gate_service.uids["pa_lateral"])
    assert familiar.locator(".badge-override").count() == 0
    assert familiar.locator(".badge-unfamiliar").count() == 0
    row.screenshot(path=str(ARTIFACTS / "worklist-row-drafted-outside-intended-use.png"))
    page.screenshot(path=str(ARTIFACTS / "worklist-drafted-outside-intended-use.png"), full_page=True)
    engine = create_engine(gate_service.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT actor, detail FROM audit_event WHERE action = 'study.draft_requested'"))
        details = [(actor, str(detail)) for actor, detail in rows]
    engine.dispose()
    assert any(actor.endswith(USERNAME) and "clinician insists" in detail for actor, detail in details)
    context.close()
