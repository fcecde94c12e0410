"""``GET /studies?order=uncertainty``: drafts nearest to the other call first, undrafted studies last."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from medvlm.findings import Finding, Presence
from medvlm.inference.uncertainty import decision_margin, review_priority
from medvlm.service.workflow.draft_output import DraftOutput
from tests.service.helpers import dicom_bytes, run_jobs

API = "/api/v1"
# study -> (study date, cardiomegaly probability); threshold 0.5, so margins 0.4, 0.05, 0.3
STUDIES = {"1.2.20": ("20240301", 0.9), "1.2.21": ("20240101", 0.55), "1.2.22": ("20240201", 0.2)}


class MarginDrafter:
    """A draft whose one probability is set per study; the margin by the real ``decision_margin``."""

    version = "margin-drafter-1"

    def draft(self, paths: list[Path], edited_findings: list[Finding] | None = None) -> DraftOutput:
        p = STUDIES[str(pydicom.dcmread(paths[0]).StudyInstanceUID)][1]
        presence = Presence.PRESENT if p >= 0.5 else Presence.ABSENT
        findings = list(edited_findings or [Finding("cardiomegaly", presence=presence, probability=p)])
        return DraftOutput(findings=findings, findings_text="Heart.", impression="Heart.",
                           model_version=self.version, uncertainty=decision_margin(findings, lambda _: 0.5))


@pytest.fixture
def drafter() -> MarginDrafter:
    return MarginDrafter()


def _upload(client: TestClient, headers: dict[str, str], uid: str, date: str) -> None:
    data = dicom_bytes(study_uid=uid, study_date=date)
    response = client.post(f"{API}/studies", files=[("files", ("a.dcm", data, "application/dicom"))],
                           headers=headers)
    assert response.status_code == 202, response.text


def _items(client: TestClient, headers: dict[str, str], **params: object) -> list[dict]:
    response = client.get(f"{API}/studies", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_most_uncertain_first(client: TestClient, app: FastAPI, callers, worker) -> None:  # type: ignore[no-untyped-def]
    h = callers.radiologist
    for uid, (date, _) in STUDIES.items():
        _upload(client, h, uid, date)
    run_jobs(worker)
    _upload(client, h, "1.2.23", "20240401")  # not drafted yet: no margin
    default = _items(client, h)
    assert [i["study_instance_uid"] for i in default] == ["1.2.23", "1.2.20", "1.2.22", "1.2.21"]
    assert [i["uncertainty"] for i in default] == pytest.approx([None, 0.4, 0.3, 0.05])  # type: ignore[list-item]
    items = _items(client, h, order="uncertainty")
    assert [i["study_instance_uid"] for i in items] == ["1.2.21", "1.2.22", "1.2.20", "1.2.23"]
    assert [i["uncertainty"] for i in items] == pytest.approx([0.05, 0.3, 0.4, None])  # type: ignore[list-item]
    page = client.get(f"{API}/studies", params={"order": "uncertainty", "page": 2, "page_size": 2}, headers=h)
    assert [i["study_instance_uid"] for i in page.json()["items"]] == ["1.2.20", "1.2.23"]

    # a changed margin moves the worklist version (migration 0011), so no cached page shows the old order
    with app.state.engine.begin() as conn:
        conn.execute(sa.text("UPDATE service_study_states SET uncertainty = 0.01 "
                             "WHERE study_instance_uid = '1.2.20'"))
    assert _items(client, h, order="uncertainty")[0]["study_instance_uid"] == "1.2.20"


def test_unknown_order_is_422(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"{API}/studies", params={"order": "random"}, headers=callers.radiologist)
    assert response.status_code == 422 and "order" in response.text


@pytest.mark.parametrize(
    ("probabilities", "margin"),
    [([0.9, 0.45], 0.05), ([0.5], 0.0), ([None], None), ([], None), ([0.1, None], 0.4)],
)
def test_decision_margin(probabilities: list[float | None], margin: float | None) -> None:
    findings = [Finding("cardiomegaly", probability=p) for p in probabilities]
    assert decision_margin(findings, lambda _: 0.5) == pytest.approx(margin)


@pytest.mark.parametrize(
    ("probabilities", "familiarity", "priority"),
    [([0.9, 0.45], None, 0.05), ([0.9, 0.45], 1.0, 0.05), ([0.9, 0.45], 0.1, 0.005), ([0.99], 0.01, 0.0049),
     ([None], 0.01, None)],
)
def test_review_priority_puts_a_confident_call_on_a_strange_film_before_a_near_call_on_a_typical_one(
    probabilities: list[float | None], familiarity: float | None, priority: float | None
) -> None:
    findings = [Finding("cardiomegaly", probability=p) for p in probabilities]
    assert review_priority(findings, lambda _: 0.5, familiarity) == pytest.approx(priority)
