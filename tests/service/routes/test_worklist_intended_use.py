"""The worklist and intended use (issue #21): a refused study is ``not_drafted`` with the gate's reason
(apart from a technical failure, each filterable), a draft by an unvalidated model is marked, a lateral
beside a frontal is listed as the second view and a lateral alone is refused; only a radiologist may ask
for a draft anyway (the role policy), and the request is audited.

The drafter is a stand-in for the model that runs the real intended-use gate (``medvlm.gate.policy``)
on the stored files, exactly as ``BundleDrafter`` does before a first draft.
"""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from fastapi.testclient import TestClient
from pydicom.uid import generate_uid
from sqlmodel import Session, select

from medvlm.compliance.audit.tables import AuditEvent
from medvlm.compliance.policy import POLICY
from medvlm.findings import Finding, Presence
from medvlm.service.jobs.drafter import UNVALIDATED, _intended_use_flag, accepted_views
from medvlm.service.workflow.draft_output import DraftOutput
from tests.service.helpers import chest_dicom_bytes, dicom_bytes, run_jobs

API = "/api/v1"
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class GatedDrafter:
    """The gate as the model's drafter runs it; a fixed normal draft from the accepted frontal."""

    def __init__(self, version: str = "v-test" + UNVALIDATED, fail: bool = False) -> None:
        self.version, self.fail = version, fail

    def draft(self, paths: list[Path], edited_findings: list[Finding] | None = None, *,
              outside_intended_use: str | None = None) -> DraftOutput:
        from medvlm.gate.policy import require_intended_use

        if self.fail:
            raise RuntimeError("the model server fell over")
        views = []
        if edited_findings is None and outside_intended_use is None:
            views = accepted_views(require_intended_use(paths))
        return DraftOutput([Finding("cardiomegaly", presence=Presence.ABSENT, probability=0.1)],
                           "The heart is normal in size.", "No acute abnormality.", self.version,
                           consistency_flags=_intended_use_flag(outside_intended_use), views=views)


@pytest.fixture
def drafter() -> GatedDrafter:
    return GatedDrafter()


def _films(views: list[str], study_uid: str) -> list[bytes]:
    """Synthetic chest films of one study, one per ViewPosition."""
    series, out = generate_uid(), []
    for number, view in enumerate(views, start=1):
        ds = pydicom.dcmread(io.BytesIO(chest_dicom_bytes(study_uid=study_uid)))
        ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.InstanceNumber = series, generate_uid(), number
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.ViewPosition = view
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append(buffer.getvalue())
    return out


def _upload(client: TestClient, h: dict[str, str], files: list[bytes]) -> None:
    parts = [("files", (f"{i}.dcm", data, "application/dicom")) for i, data in enumerate(files)]
    assert client.post(f"{API}/studies", files=parts, headers=h).status_code == 202


def _item(client: TestClient, h: dict[str, str], uid: str, **params: str) -> dict | None:
    items = client.get(f"{API}/studies", params=params, headers=h).json()["items"]
    return next((i for i in items if i["study_instance_uid"] == uid), None)


# name -> (files of the study, status, words of the reason, the views listed)
STUDIES = {
    "ct": (lambda uid: [dicom_bytes(study_uid=uid)], "not_drafted", "modality CT", []),
    "mr": (lambda uid: [dicom_bytes(study_uid=uid, modality="MR")], "not_drafted", "modality MR", []),
    "pa": (lambda uid: _films(["PA"], uid), "draft_ready", None, [("frontal", "PA")]),
    "pa+ll": (lambda uid: _films(["PA", "LL"], uid), "draft_ready", None,
              [("frontal", "PA"), ("lateral", "LL")]),
    "ll+ap": (lambda uid: _films(["LL", "AP"], uid), "draft_ready", None,
              [("frontal", "AP"), ("lateral", "LL")]),
    "rl-only": (lambda uid: _films(["RL"], uid), "not_drafted", "lateral chest view only", []),
    "ll+rl": (lambda uid: _films(["LL", "RL"], uid), "not_drafted", "lateral chest view only", []),
}


@pytest.mark.parametrize("name", list(STUDIES))
def test_the_worklist_shows_the_gate_decision(client: TestClient, callers, worker, name: str) -> None:  # type: ignore[no-untyped-def]
    build, status, reason, views = STUDIES[name]
    uid, h = generate_uid(), callers.radiologist
    _upload(client, h, build(uid))
    assert run_jobs(worker) == 1
    item = _item(client, h, uid)
    assert item is not None and item["status"] == status
    if reason is None:  # drafted: no reason; a lateral is listed as the second view, never the frontal read
        assert item["status_reason"] is None and item["report_id"]
    else:  # refused: the gate's reason, and no draft (a lateral alone is not read as a frontal)
        assert reason in item["status_reason"] and item["report_id"] is None
    assert [(v["kind"], v["view_position"]) for v in item["views"]] == views
    assert item["outside_intended_use"] is False  # nobody asked for a draft anyway
    detail = client.get(f"{API}/studies/{uid}", headers=h).json()  # the review page reads the same
    assert (detail["status"], detail["status_reason"], detail["views"]) == (
        item["status"], item["status_reason"], item["views"])
    assert _item(client, h, uid, status=status) is not None  # filterable by its status
    other = "draft_ready" if status == "not_drafted" else "not_drafted"
    assert _item(client, h, uid, status=other) is None


def test_a_technical_failure_is_failed_with_its_reason_not_outside_intended_use(  # type: ignore[no-untyped-def]
    client: TestClient, app, callers, worker
) -> None:
    app.state.drafter = lambda: GatedDrafter(fail=True)
    worker.drafter = app.state.drafter
    uid, h = generate_uid(), callers.radiologist
    _upload(client, h, _films(["PA"], uid))
    run_jobs(worker)  # every attempt fails
    item = _item(client, h, uid)
    assert item["status"] == "failed" and "the model server fell over" in item["status_reason"]
    assert _item(client, h, uid, status="not_drafted") is None and _item(client, h, uid, status="failed")


@pytest.mark.parametrize(("version", "unvalidated"), [
    ("v-test" + UNVALIDATED, True), ("v-test", False), ("v-test (unvalidated model) suffix", False)])
def test_drafts_by_an_unvalidated_model_are_marked(  # type: ignore[no-untyped-def]
    client: TestClient, app, callers, worker, version: str, unvalidated: bool
) -> None:
    app.state.drafter = lambda: GatedDrafter(version)
    worker.drafter = app.state.drafter
    uid, h = generate_uid(), callers.radiologist
    _upload(client, h, _films(["PA"], uid))
    assert run_jobs(worker) == 1
    item = _item(client, h, uid)
    assert (item["model_version"], item["unvalidated_model"]) == (version, unvalidated)


# role -> answer to "draft anyway" (report writers only: medvlm.compliance.policy)
OVERRIDE_ROLES = [("radiologist", 202), ("researcher", 403), ("admin", 403), ("integration", 403)]


@pytest.mark.parametrize(("role", "expected"), OVERRIDE_ROLES)
def test_only_a_radiologist_may_draft_a_refused_study_anyway(  # type: ignore[no-untyped-def]
    client: TestClient, app, callers, worker, role: str, expected: int
) -> None:
    uid = generate_uid()
    _upload(client, callers.integration, [dicom_bytes(study_uid=uid, modality="MR")])  # the key sees it too
    assert run_jobs(worker) == 1
    body = {"override_intended_use": True, "reason": "clinician insists"}
    answer = client.post(f"{API}/studies/{uid}/draft", json=body, headers=callers.of(role))
    assert answer.status_code == expected, answer.text
    with Session(app.state.engine) as session:
        requested = session.exec(select(AuditEvent).where(AuditEvent.action == "study.draft_requested")).all()
    if expected != 202:
        assert requested == [] and _item(client, callers.radiologist, uid)["status"] == "not_drafted"
        return
    assert [e.detail["override_intended_use"] for e in requested] == [True]
    assert run_jobs(worker) == 1
    item = _item(client, callers.radiologist, uid)
    assert item["status"] == "draft_ready" and item["status_reason"] is None
    assert item["outside_intended_use"] is True  # the worklist marks the row: drafted on request
    report = client.get(f"{API}/studies/{uid}/report", headers=callers.radiologist).json()
    assert report["consistency_flags"][0]["kind"] == "intended_use"


def test_a_draft_outside_intended_use_stays_marked_after_an_edit(  # type: ignore[no-untyped-def]
    client: TestClient, callers, worker
) -> None:
    """Editing the text re-runs the consistency guard; how the draft came about is not its to forget."""
    uid, h = generate_uid(), callers.radiologist
    _upload(client, h, [dicom_bytes(study_uid=uid, modality="MR")])
    assert run_jobs(worker) == 1
    body = {"override_intended_use": True, "reason": "clinician insists"}
    assert client.post(f"{API}/studies/{uid}/draft", json=body, headers=h).status_code == 202
    assert run_jobs(worker) == 1
    report = client.get(f"{API}/studies/{uid}/report", headers=h).json()
    edit = {"findings_text": "The heart is normal in size. Lungs clear.", "base_version": report["version"]}
    assert client.put(f"{API}/reports/{report['id']}", json=edit, headers=h).status_code == 200
    report = client.get(f"{API}/studies/{uid}/report", headers=h).json()
    assert [f["kind"] for f in report["consistency_flags"]].count("intended_use") == 1
    assert report["consistency_flags"][0]["kind"] == "intended_use"
    assert _item(client, h, uid)["outside_intended_use"] is True


@pytest.mark.parametrize("body", [{"override_intended_use": "yes please"}, {"reason": "x" * 501},
                                  {"override_intended_use": True, "colour": "red"}])
def test_bad_override_requests_are_422(client: TestClient, callers, body: dict) -> None:  # type: ignore[no-untyped-def]
    uid = generate_uid()
    _upload(client, callers.radiologist, [dicom_bytes(study_uid=uid)])
    answer = client.post(f"{API}/studies/{uid}/draft", json=body, headers=callers.radiologist)
    assert answer.status_code == 422


def test_the_ui_reads_the_role_policy(client: TestClient) -> None:
    """The review page offers "Draft anyway" to the roles holding report:write, read from here."""
    permissions = client.get("/ui/vocabulary.json").json()["permissions"]
    assert permissions == {role.value: sorted(p.value for p in granted) for role, granted in POLICY.items()}
    assert [role for role, held in permissions.items() if "report:write" in held] == ["radiologist"]
    statuses = client.get("/ui/vocabulary.json").json()["study_statuses"]
    assert statuses["not_drafted"] == "Outside intended use" and statuses["failed"] == "Failed"
