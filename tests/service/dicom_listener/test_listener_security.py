"""The listener against hostile peers (issue #19 item 10): a calling-AE allow-list from the settings, and
idle associations that cannot hold every slot; the same instance over HTTP and C-STORE is one instance
(item 7); every stored instance has its audit row from its own transaction (item 9)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pydicom
from fastapi.testclient import TestClient
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from sqlmodel import Session, select

from medvlm.compliance.audit import AuditEvent
from medvlm.db import get_engine
from medvlm.pacs import scu
from medvlm.service.app import create_app
from medvlm.service.dicom_listener.listener import start_dicom_listener
from medvlm.settings import Settings


def _associate(port: int, calling: str) -> object:
    ae = AE(ae_title=calling)
    ae.add_requested_context(Verification)
    ae.acse_timeout = 5
    return ae.associate("127.0.0.1", port, ae_title="MEDVLM")


def test_the_allow_list_comes_from_the_settings(sqlite_settings: Settings) -> None:
    settings = sqlite_settings.model_copy(update={"dicom_allowed_aes": "CT1, DX2"})
    with start_dicom_listener(settings, port=0) as handle:
        refused = _associate(handle.port, "EVIL")
        assert refused.is_rejected  # type: ignore[attr-defined]
        allowed = _associate(handle.port, "DX2")
        assert allowed.is_established  # type: ignore[attr-defined]
        allowed.release()  # type: ignore[attr-defined]


def test_idle_associations_cannot_lock_the_modalities_out(sqlite_settings: Settings) -> None:
    # 3 s of idleness: enough margin that a slow, loaded machine still establishes both idle peers first.
    settings = sqlite_settings.model_copy(update={"dicom_idle_timeout_s": 3.0, "dicom_max_associations": 2})
    with start_dicom_listener(settings, port=0) as handle:
        idle = [_associate(handle.port, "IDLE") for _ in range(2)]
        assert all(a.is_established for a in idle)  # type: ignore[attr-defined]
        assert not _associate(handle.port, "CT1").is_established  # type: ignore[attr-defined]
        time.sleep(6.0)  # nothing sent for longer than the idle limit: the idle peers are dropped
        modality = _associate(handle.port, "CT1")
        assert modality.is_established  # type: ignore[attr-defined]
        assert modality.send_c_echo().Status == 0  # type: ignore[attr-defined]
        modality.release()  # type: ignore[attr-defined]


def test_http_then_cstore_of_one_instance_is_one_instance(sqlite_settings: Settings,
                                                          testdata: Callable[[str], Path]) -> None:
    sqlite_settings = sqlite_settings.model_copy(update={"secret_key": "s" * 40})
    path = testdata("CT_small.dcm")
    app = create_app(sqlite_settings)
    from tests.service.helpers import make_user, token_for

    with Session(app.state.engine) as session:
        user = make_user(session, "rad", "radiologist")
        token = token_for(session, sqlite_settings.secret_key, user)
        session.commit()
    with TestClient(app) as client:
        upload = client.post("/api/v1/studies", files=[("files", ("a.dcm", path.read_bytes()))],
                             headers={"Authorization": f"Bearer {token}"})
        assert upload.status_code == 202 and upload.json()["ingested"] == 1
    with start_dicom_listener(sqlite_settings, port=0) as handle:
        [result] = scu.send("127.0.0.1", handle.port, [path], called_ae="MEDVLM", calling_ae="CT1")
        assert result.status == 0x0000  # a duplicate, not a conflict (0xC001)
        [summary] = handle.wait_for_associations(1)
        assert summary.stored == 1 and summary.new_studies == set()
    with Session(get_engine(sqlite_settings.resolved_database_url)) as session:
        events = session.exec(select(AuditEvent)).all()
    actions = sorted(e.action for e in events if e.action in ("study.cstore", "study.upload"))
    assert actions == ["study.cstore", "study.upload"]  # each written with its batch


def test_cstore_audit_is_written_with_the_instance_even_without_the_queue(sqlite_settings: Settings,
                                                                           testdata) -> None:  # type: ignore[no-untyped-def]
    path = testdata("MR_small.dcm")
    with start_dicom_listener(sqlite_settings, port=0, queue_drafts=False) as handle:
        scu.send("127.0.0.1", handle.port, [path], called_ae="MEDVLM", calling_ae="MR1")
        handle.wait_for_associations(1)
    with Session(get_engine(sqlite_settings.resolved_database_url)) as session:
        [event] = [e for e in session.exec(select(AuditEvent)).all() if e.action == "study.cstore"]
    assert event.actor == "dicom:MR1"
    assert event.resource_id == str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)
