"""``GET /corrections/burden``: per model version, what clinicians accepted, added, removed and rewrote."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from medvlm.compliance.audit import AuditEvent
from medvlm.evaluation.corrections import changed_labels, word_edit_distance
from medvlm.service.db.tables import Report

API = "/api/v1"
CARDIO = {"label": "cardiomegaly", "presence": "present", "probability": 0.8}
LEFT = {"label": "pleural_effusion", "presence": "present", "laterality": "left", "severity": "small"}
RIGHT = {**LEFT, "laterality": "right"}
PTX = {"label": "pneumothorax", "presence": "present", "laterality": "left", "severity": "small"}
NORMAL = {"label": "no_finding", "presence": "present"}
# (version, original findings, original text, final findings, final text, status)
PAIRS: list[tuple[str, list[dict], str, list[dict], str, str]] = [
    ("v1", [CARDIO], "Heart is enlarged.", [CARDIO], "Heart is enlarged.", "signed"),  # accepted as is
    ("v1", [CARDIO, LEFT], "Heart is enlarged. Left effusion.", [RIGHT], "Right effusion.", "signed"),
    ("v1", [NORMAL], "No acute abnormality.", [PTX], "Small left pneumothorax.", "signed"),  # added
    ("v2", [CARDIO], "Heart is enlarged.", [CARDIO], "Heart is enlarged.", "signed"),
    ("v1", [CARDIO], "Heart is enlarged.", [], "Normal.", "in_review"),  # not signed: not counted
]


def _seed(app: FastAPI) -> None:
    with Session(app.state.engine) as session:
        for i, (version, before, before_text, after, after_text, status) in enumerate(PAIRS):
            session.add(Report(
                study_instance_uid=f"1.2.77.{i}", status=status, model_version=version,
                original={"findings": before, "findings_text": before_text, "impression": ""},
                findings=after, findings_text=after_text, impression="",
            ))
        session.commit()


def _finding(version: dict[str, Any], label: str) -> dict[str, Any]:
    return next(f for f in version["findings"] if f["label"] == label)


def test_burden_per_version(client: TestClient, app: FastAPI, callers) -> None:  # type: ignore[no-untyped-def]
    _seed(app)
    response = client.get(f"{API}/corrections/burden", headers=callers.researcher)
    assert response.status_code == 200, response.text
    v1, v2 = response.json()["versions"]
    assert (v1["model_version"], v1["reports"], v2["reports"]) == ("v1", 3, 1)
    assert v1["unchanged_rate"] == pytest.approx(1 / 3, abs=1e-4) and v2["unchanged_rate"] == 1.0
    assert _finding(v1, "cardiomegaly") == {"label": "cardiomegaly", "drafted": 2, "accepted": 1, "added": 0,
                                            "removed": 1, "changed": 0, "acceptance_rate": 0.5}
    effusion = _finding(v1, "pleural_effusion")
    assert (effusion["drafted"], effusion["changed"], effusion["acceptance_rate"]) == (1, 1, 0.0)
    ptx = _finding(v1, "pneumothorax")
    assert (ptx["added"], ptx["drafted"], ptx["acceptance_rate"]) == (1, 0, None)
    assert "no_finding" not in {f["label"] for f in v1["findings"]}
    # word edits 0, 4 (three deleted, one replaced), 3; per word of the longer text 0, 4/5, 3/3
    assert v1["text_edit_distance"] == {"mean_words": pytest.approx(7 / 3, abs=1e-3), "median_words": 3.0,
                                        "mean_per_word": pytest.approx(0.6, abs=1e-4)}
    only = client.get(f"{API}/corrections/burden", params={"model_version": "v2"}, headers=callers.admin)
    assert [v["model_version"] for v in only.json()["versions"]] == ["v2"]
    with Session(app.state.engine) as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "corrections.burden")).all()


@pytest.mark.parametrize(
    ("role", "status"), [("radiologist", 403), ("integration", 403), ("researcher", 200), ("admin", 200)]
)
def test_burden_is_for_researchers_and_admins(client: TestClient, callers, role: str, status: int) -> None:  # type: ignore[no-untyped-def]
    assert client.get(f"{API}/corrections/burden", headers=callers.of(role)).status_code == status


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("a b c", "a b c", 0), ("a b c", "a c", 1), ("a b", "x y z", 3), ("", "one two", 2)],
)
def test_word_edit_distance(a: str, b: str, distance: int) -> None:
    assert word_edit_distance(a, b) == distance


def test_changed_labels_sees_side_severity_and_certainty() -> None:
    uncertain = {**CARDIO, "presence": "uncertain"}
    assert changed_labels([CARDIO, LEFT], [uncertain, RIGHT]) == {"cardiomegaly", "pleural_effusion"}
    assert changed_labels([CARDIO], [CARDIO, {**NORMAL, "presence": "absent"}]) == set()
