"""The draft's comparison line: a study with an earlier stored study of the same patient gets a first line
naming that study's date, written by the service (drafting and redrafting); one without gets none."""

from __future__ import annotations

from fastapi.testclient import TestClient

from medvlm.service.jobs.worker import Worker
from tests.service.helpers import dicom_bytes, run_jobs

API = "/api/v1"


def _report(client: TestClient, headers: dict[str, str], uid: str) -> dict:
    response = client.get(f"{API}/studies/{uid}/report", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_comparison_line_names_the_prior(client: TestClient, callers, worker: Worker) -> None:  # type: ignore[no-untyped-def]
    h = callers.radiologist
    studies = [
        ("1.2.826.0.1.88.1", "CMP-1", "20230105"),
        ("1.2.826.0.1.88.2", "CMP-1", "20240601"),
        ("1.2.826.0.1.88.3", "CMP-1", "20250101"),
        ("1.2.826.0.1.88.4", "CMP-2", "20240601"),
    ]
    for uid, patient, date in studies:
        data = dicom_bytes(study_uid=uid, patient_id=patient, study_date=date)
        up = client.post(f"{API}/studies", headers=h, files=[("files", ("a.dcm", data, "application/dicom"))])
        assert up.status_code == 202, up.text
    assert run_jobs(worker) == 4
    first_lines = {uid: _report(client, h, uid)["findings_text"].splitlines()[0] for uid, _, _ in studies}
    assert first_lines["1.2.826.0.1.88.2"] == "Comparison: prior study dated 2023-01-05."
    assert first_lines["1.2.826.0.1.88.3"] == "Comparison: prior study dated 2024-06-01."  # the latest prior
    assert not first_lines["1.2.826.0.1.88.1"].startswith("Comparison")  # the patient's first study
    assert not first_lines["1.2.826.0.1.88.4"].startswith("Comparison")  # another patient's study
    report = _report(client, h, "1.2.826.0.1.88.2")
    assert report["original"]["findings_text"] == report["findings_text"]  # part of the ORIGINAL draft

    redrafted = client.post(
        f"{API}/reports/{report['id']}/regenerate",
        json={"findings": [{"label": "cardiomegaly"}], "base_version": report["version"]},
        headers=h,
    )
    assert redrafted.status_code == 200, redrafted.text
    text = redrafted.json()["findings_text"]
    assert (
        text.splitlines()[0] == "Comparison: prior study dated 2023-01-05." and text.count("Comparison") == 1
    )
