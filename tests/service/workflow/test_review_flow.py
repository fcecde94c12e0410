"""The whole review path over HTTP: upload -> queued job -> draft (ORIGINAL) -> edit -> regenerate -> sign
(FINAL, immutable) -> addendum -> versions -> correction pair. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from medvlm.compliance.audit import AuditEvent
from medvlm.service.jobs.worker import Worker
from tests.service.helpers import dicom_bytes, run_jobs

API = "/api/v1"


def upload(client: TestClient, headers: dict[str, str], *files: bytes) -> dict:
    parts = [("files", (f"f{i}.dcm", data, "application/dicom")) for i, data in enumerate(files)]
    response = client.post(f"{API}/studies", files=parts, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


def test_upload_queues_a_job_without_drafting(client: TestClient, callers, drafter) -> None:
    body = upload(client, callers.radiologist, dicom_bytes(study_uid="1.2.3.4"))
    assert body["ingested"] == 1 and body["study_instance_uids"] == ["1.2.3.4"] and len(body["jobs"]) == 1
    assert drafter.calls == 0  # the request never waits for the model
    jobs = client.get(f"{API}/jobs", params={"study_uid": "1.2.3.4"}, headers=callers.radiologist).json()
    assert [(j["id"], j["status"]) for j in jobs] == [(body["jobs"][0], "queued")]
    study = client.get(f"{API}/studies/1.2.3.4", headers=callers.radiologist).json()
    assert study["status"] == "drafting" and study["report_id"] is None


def test_review_sign_and_addendum(client: TestClient, callers, worker: Worker, app) -> None:
    upload(client, callers.radiologist, dicom_bytes(study_uid="1.2.3.5"))
    assert run_jobs(worker) == 1
    h = callers.radiologist
    report = client.get(f"{API}/studies/1.2.3.5/report", headers=h).json()
    assert report["status"] == "draft" and report["version"] == 1
    assert report["model_version"] == "test-drafter-1"
    assert report["original"]["findings_text"] == report["findings_text"]
    rid = report["id"]
    assert client.get(f"{API}/studies/1.2.3.5", headers=h).json()["status"] == "draft_ready"

    edited = client.put(
        f"{API}/reports/{rid}", json={"base_version": 1, "impression": "Mild cardiomegaly."}, headers=h
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "in_review" and edited.json()["version"] == 2
    stale = client.put(f"{API}/reports/{rid}", json={"base_version": 1, "impression": "x"}, headers=h)
    assert stale.status_code == 409 and "version 2" in stale.json()["detail"]

    findings = [
        {"label": "pleural_effusion", "laterality": "left", "critical": False},
        {"label": "pneumothorax", "laterality": "right", "critical": True},
    ]
    regen = client.post(
        f"{API}/reports/{rid}/regenerate", json={"findings": findings, "base_version": 2}, headers=h
    )
    assert regen.status_code == 200, regen.text
    assert "pneumothorax" in regen.json()["findings_text"] and regen.json()["version"] == 3
    worklist = client.get(f"{API}/studies", headers=h).json()
    assert worklist["items"][0]["critical"] is True

    assert client.post(f"{API}/reports/{rid}/addenda", json={"text": "early"}, headers=h).status_code == 409
    signed = client.post(f"{API}/reports/{rid}/sign", json={"confirm": True}, headers=h)
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["status"] == "signed" and body["signed_by"] == "radiologist1" and body["signed_at"]
    assert body["original"]["impression"] != body["impression"]  # ORIGINAL kept beside FINAL

    for method, path, payload in [
        ("put", "", {"base_version": 4, "impression": "changed"}),
        ("post", "/regenerate", {"findings": []}),
        ("post", "/sign", {"confirm": True}),
    ]:
        refused = getattr(client, method)(f"{API}/reports/{rid}{path}", json=payload, headers=h)
        assert refused.status_code == 409, (path, refused.text)
    assert client.get(f"{API}/reports/{rid}", headers=h).json()["impression"] == body["impression"]

    add = client.post(
        f"{API}/reports/{rid}/addenda", json={"text": "Compared with prior: unchanged."}, headers=h
    )
    assert add.status_code == 201 and add.json()["author"] == "radiologist1"
    assert client.get(f"{API}/reports/{rid}", headers=h).json()["addenda"][0]["text"].startswith("Compared")

    versions = client.get(f"{API}/reports/{rid}/versions", headers=h).json()
    assert [v["kind"] for v in versions] == ["ORIGINAL", "EDIT", "REGENERATED", "FINAL"]
    assert [v["version"] for v in versions] == [1, 2, 3, 4]

    pairs = client.get(f"{API}/corrections", headers=callers.researcher).json()
    assert pairs["total"] == 1 and pairs["items"][0]["changed"] is True
    assert pairs["items"][0]["original"]["findings"][0]["label"] == "cardiomegaly"
    assert {f["label"] for f in pairs["items"][0]["final"]["findings"]} == {
        "pleural_effusion",
        "pneumothorax",
    }

    with Session(app.state.engine) as session:
        actions = [e.action for e in session.exec(select(AuditEvent)).all()]
    for action in (
        "study.upload",
        "report.draft",
        "report.edit",
        "report.regenerate",
        "report.sign",
        "report.addendum",
        "report.read",
        "study.read",
        "corrections.read",
    ):
        assert action in actions, action


def test_one_key_accept_signs_the_draft_as_is(client: TestClient, callers, worker: Worker) -> None:
    upload(client, callers.radiologist, dicom_bytes(study_uid="1.2.3.6"))
    run_jobs(worker)
    h = callers.radiologist
    report = client.get(f"{API}/studies/1.2.3.6/report", headers=h).json()
    signed = client.post(f"{API}/reports/{report['id']}/sign", json={"confirm": True}, headers=h).json()
    assert signed["status"] == "signed" and signed["findings_text"] == report["findings_text"]
    pair = client.get(f"{API}/corrections", headers=callers.admin).json()["items"][0]
    assert pair["changed"] is False


def test_signing_needs_explicit_confirmation(client: TestClient, callers, worker: Worker) -> None:
    upload(client, callers.radiologist, dicom_bytes(study_uid="1.2.3.7"))
    run_jobs(worker)
    rid = client.get(f"{API}/studies/1.2.3.7/report", headers=callers.radiologist).json()["id"]
    for payload in ({}, {"confirm": False}):
        response = client.post(f"{API}/reports/{rid}/sign", json=payload, headers=callers.radiologist)
        assert response.status_code == 422
    assert client.get(f"{API}/reports/{rid}", headers=callers.radiologist).json()["status"] == "draft"


def test_edits_are_rechecked_for_consistency(client: TestClient, callers, worker: Worker) -> None:
    upload(client, callers.radiologist, dicom_bytes(study_uid="1.2.3.8"))
    run_jobs(worker)
    h = callers.radiologist
    report = client.get(f"{API}/studies/1.2.3.8/report", headers=h).json()
    edited = client.put(
        f"{API}/reports/{report['id']}",
        json={
            "base_version": 1,
            "findings": [],
            "findings_text": "Large left pneumothorax.",
            "impression": "",
        },
        headers=h,
    ).json()
    assert [(f["label"], f["kind"]) for f in edited["consistency_flags"]] == [
        ("pneumothorax", "hallucination")
    ]
    fixed = client.put(
        f"{API}/reports/{report['id']}",
        json={
            "base_version": 2,
            "findings": [{"label": "pneumothorax", "laterality": "left", "severity": "large"}],
        },
        headers=h,
    ).json()
    assert fixed["consistency_flags"] == [], fixed["consistency_flags"]


def test_corrections_are_de_identified(client: TestClient, callers, worker: Worker) -> None:
    upload(
        client,
        callers.radiologist,
        dicom_bytes(study_uid="1.2.3.9", patient_id="PID12345", accession="ACC777"),
    )
    run_jobs(worker)
    h = callers.radiologist
    report = client.get(f"{API}/studies/1.2.3.9/report", headers=h).json()
    text = "Compared with 01/02/2023 for patient PID12345 (accession ACC777); discussed with radiologist1."
    client.put(f"{API}/reports/{report['id']}", json={"base_version": 1, "impression": text}, headers=h)
    client.post(f"{API}/reports/{report['id']}/sign", json={"confirm": True}, headers=h)
    pair = client.get(f"{API}/corrections", headers=callers.researcher).json()["items"][0]
    assert pair["study_instance_uid"].startswith("2.25.") and pair["study_instance_uid"] != "1.2.3.9"
    impression = pair["final"]["impression"]
    for phi in ("PID12345", "ACC777", "01/02/2023", "radiologist1"):
        assert phi not in impression, impression
    assert impression.startswith("Compared with")
    again = client.get(f"{API}/corrections", headers=callers.admin).json()["items"][0]
    assert again["study_instance_uid"] == pair["study_instance_uid"]  # a stable pseudonym
    # Neither the real report id nor the signing time goes to research (issue 19): a pseudonym, a month.
    assert pair["report_id"] != report["id"] and pair["report_id"].startswith("corr-")
    assert again["report_id"] == pair["report_id"]
    signed = client.get(f"{API}/reports/{report['id']}", headers=h).json()["signed_at"]
    assert "signed_at" not in pair and pair["signed_month"] == signed[:7]
