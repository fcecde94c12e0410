"""Signature and addendum to the RIS: the API signs, the outbox row commits with it, the background sender
delivers it over MLLP to a real listener (its own process), and the ACK decides what happens next."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hl7apy.parser import parse_message
from sqlmodel import Session, col, select

from medvlm.service.hl7 import outbox
from medvlm.service.hl7.sender import Hl7Sender
from medvlm.service.hl7.tables import Hl7Message
from medvlm.service.jobs.worker import Worker
from medvlm.service.workflow import reports as wf
from medvlm.settings import Settings, get_settings
from tests.service.conftest import SECRET
from tests.service.helpers import dicom_bytes, run_jobs
from tests.support.mllp_server import MllpServer, running_mllp_server

API = "/api/v1"


@pytest.fixture
def answers() -> list[str]:
    return []


@pytest.fixture
def mllp(tmp_path: Path, answers: list[str]) -> Iterator[MllpServer]:
    with running_mllp_server(tmp_path, answers) as server:
        yield server


@pytest.fixture
def app_settings(settings: Settings, mllp: MllpServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MEDVLM_SECRET_KEY", SECRET)
    monkeypatch.setenv("MEDVLM_HL7_HOST", "127.0.0.1")
    monkeypatch.setenv("MEDVLM_HL7_PORT", str(mllp.port))
    monkeypatch.setenv("MEDVLM_HL7_RECEIVING_APPLICATION", "RIS")
    monkeypatch.setenv("MEDVLM_HL7_RETRY_SECONDS", "0.01")
    monkeypatch.setenv("MEDVLM_HL7_TIMEOUT_SECONDS", "5")
    get_settings.cache_clear()
    return get_settings()


def _signed_with_addendum(client: TestClient, headers: dict[str, str], worker: Worker, uid: str) -> str:
    data = dicom_bytes(study_uid=uid, accession="ACC9")
    files = [("files", ("a.dcm", data, "application/dicom"))]
    response = client.post(f"{API}/studies", headers=headers, files=files)
    assert response.status_code == 202, response.text
    assert run_jobs(worker) == 1
    rid = client.get(f"{API}/studies/{uid}/report", headers=headers).json()["id"]
    signed = client.post(f"{API}/reports/{rid}/sign", json={"confirm": True}, headers=headers)
    assert signed.status_code == 200, signed.text
    added = client.post(f"{API}/reports/{rid}/addenda", json={"text": "Addendum: size | 2 cm."},
                        headers=headers)
    assert added.status_code == 201, added.text
    return rid


def _rows(app: FastAPI) -> list[Hl7Message]:
    with Session(app.state.engine) as session:
        return list(session.exec(select(Hl7Message).order_by(col(Hl7Message.id))).all())


def _drain(sender: Hl7Sender, seconds: float = 10) -> None:
    """Run the sender until nothing is pending (retries are due after a few milliseconds here)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not sender.run_once():
            with Session(sender.engine) as session:
                if not session.exec(select(Hl7Message).where(Hl7Message.status == "pending")).first():
                    return
            time.sleep(0.02)
    raise AssertionError("the outbox did not drain")


@pytest.mark.parametrize("answers", [["AE", "close", "other", "AA"]])
def test_signature_and_addendum_reach_the_ris_in_order(client: TestClient, callers, worker: Worker,
                                                       app: FastAPI, app_settings: Settings,
                                                       mllp: MllpServer) -> None:
    rid = _signed_with_addendum(client, callers.radiologist, worker, "1.2.826.0.1.99.1")
    rows = _rows(app)
    assert [(r.event, r.status, r.report_id) for r in rows] == [("signed", "pending", rid),
                                                                ("addendum", "pending", rid)]
    _drain(Hl7Sender(app.state.engine, app_settings, poll_seconds=0.01))
    rows = _rows(app)
    assert [(r.status, r.ack_code, r.attempts) for r in rows] == [("sent", "AA", 4), ("sent", "AA", 1)]
    received = mllp.received()
    # AE, a hang-up and an ACK for another message were each retried; the addendum waited for the signature.
    assert [r["answer"] for r in received] == ["AE", "close", "other", "AA", "AA"]
    parsed = [parse_message(r["message"], find_groups=True) for r in received]
    assert [p.msh.msh_10.value for p in parsed] == [rows[0].control_id] * 4 + [rows[1].control_id]
    statuses = [p.oru_r01_patient_result.oru_r01_order_observation.obr.obr_25.value for p in parsed]
    assert statuses == ["F"] * 4 + ["C"]
    last = parsed[-1].oru_r01_patient_result.oru_r01_order_observation
    assert last.obr.obr_3.value == "ACC9" and last.obr.obr_32.value == "radiologist1"
    assert "Addendum: size \\F\\ 2 cm." in received[-1]["message"]


@pytest.mark.parametrize("answers", [["AR"]])
def test_rejected_message_fails_and_holds_the_addendum_back(client: TestClient, callers, worker: Worker,
                                                            app: FastAPI, app_settings: Settings,
                                                            mllp: MllpServer) -> None:
    rid = _signed_with_addendum(client, callers.radiologist, worker, "1.2.826.0.1.99.2")
    sender = Hl7Sender(app.state.engine, app_settings, poll_seconds=0.01)
    assert sender.run_once() is True
    assert sender.run_once() is False  # the addendum may not overtake the rejected signature
    rows = _rows(app)
    assert [(r.status, r.ack_code) for r in rows] == [("failed", "AR"), ("pending", None)]
    assert "rejected (unsupported message)" in (rows[0].last_error or "")
    assert outbox.retry_failed(app.state.engine, rid) == 1  # after the RIS side was fixed
    _drain(sender)
    assert [(r.status, r.ack_code) for r in _rows(app)] == [("sent", "AA"), ("sent", "AA")]


def test_unreachable_endpoint_retries_then_gives_up(client: TestClient, callers, worker: Worker, app: FastAPI,
                                                    app_settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                                    mllp: MllpServer) -> None:
    _signed_with_addendum(client, callers.radiologist, worker, "1.2.826.0.1.99.3")
    closed = app_settings.model_copy(update={"hl7_port": 1, "hl7_max_attempts": 2})
    sender = Hl7Sender(app.state.engine, closed, poll_seconds=0.01)
    deadline = time.monotonic() + 10
    while _rows(app)[0].status != "failed" and time.monotonic() < deadline:
        sender.run_once()
        time.sleep(0.02)
    first = _rows(app)[0]
    assert (first.status, first.attempts) == ("failed", 2)
    assert "no ACK from 127.0.0.1:1" in (first.last_error or "")
    assert mllp.received() == []


def test_message_commits_with_the_signature_or_not_at_all(client: TestClient, callers, worker: Worker,
                                                          app: FastAPI) -> None:
    h = callers.radiologist
    client.post(f"{API}/studies", headers=h,
                files=[("files", ("a.dcm", dicom_bytes(study_uid="1.2.826.0.1.99.4"), "application/dicom"))])
    run_jobs(worker)
    rid = client.get(f"{API}/studies/1.2.826.0.1.99.4/report", headers=h).json()["id"]
    with Session(app.state.engine) as session:
        wf.sign(session, wf.lock_report(session, rid), author="radiologist1")
        assert len(session.exec(select(Hl7Message)).all()) == 1  # written in the signing transaction
        session.rollback()
    assert _rows(app) == []
    assert client.get(f"{API}/reports/{rid}", headers=h).json()["status"] != "signed"


def test_nothing_is_queued_without_an_endpoint(client: TestClient, callers, worker: Worker, app: FastAPI,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDVLM_HL7_HOST", "")
    get_settings.cache_clear()
    _signed_with_addendum(client, callers.radiologist, worker, "1.2.826.0.1.99.5")
    assert _rows(app) == []
