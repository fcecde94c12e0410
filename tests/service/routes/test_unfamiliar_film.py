"""A draft on a film unlike the model's training films: the worklist marks its row, the report carries the
flag first, and an edit (the guard re-run on the text) or a regeneration from edited findings (which cannot
judge the film) keeps it, once.

The drafter is a stand-in that hands the workflow what ``BundleDrafter`` hands it for such a film: the
inference layer's own flag (``medvlm.inference.uncertainty.unfamiliar_film_flag``; a real model sets it in
``tests/medvlm/inference/test_unfamiliar_film.py`` and in the browser test of intended use).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydicom.uid import generate_uid

from medvlm.findings import Finding, Presence
from medvlm.inference.uncertainty import UNFAMILIAR_FILM, unfamiliar_film_flag
from medvlm.service.workflow.draft_output import DraftOutput, keeping_film_flags
from tests.service.helpers import chest_dicom_bytes, run_jobs

API = "/api/v1"


class UnfamiliarFilmDrafter:
    """Every film it reads is stranger than 99 % of its training films; edited findings read no film."""

    def draft(self, paths: list[Path], edited_findings: list[Finding] | None = None, *,
              outside_intended_use: str | None = None) -> DraftOutput:
        flag = unfamiliar_film_flag(0.002) if edited_findings is None else None
        findings = edited_findings or [Finding("cardiomegaly", presence=Presence.ABSENT, probability=0.1)]
        return DraftOutput(findings, "The heart is normal in size.", "No acute abnormality.", "v-test",
                           consistency_flags=[flag.to_dict()] if flag else [])


@pytest.fixture
def drafter() -> UnfamiliarFilmDrafter:
    return UnfamiliarFilmDrafter()


def _item(client: TestClient, h: dict[str, str], uid: str) -> dict:
    items = client.get(f"{API}/studies", headers=h).json()["items"]
    return next(i for i in items if i["study_instance_uid"] == uid)


def _kinds(report: dict) -> list[str]:
    return [f["kind"] for f in report["consistency_flags"]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unfamiliar_film_is_marked_and_keeps_its_flag_through_edits(  # type: ignore[no-untyped-def]
    client: TestClient, callers, worker
) -> None:
    uid, h = generate_uid(), callers.radiologist
    upload = [("files", ("a.dcm", chest_dicom_bytes(study_uid=uid), "application/dicom"))]
    assert client.post(f"{API}/studies", files=upload, headers=h).status_code == 202
    assert run_jobs(worker) == 1
    assert _item(client, h, uid)["unfamiliar_film"] is True
    report = client.get(f"{API}/studies/{uid}/report", headers=h).json()
    assert _kinds(report)[0] == UNFAMILIAR_FILM
    assert "unlike the films the model was trained on" in report["consistency_flags"][0]["message"]

    edit = {"findings_text": "Moderate cardiomegaly.", "base_version": report["version"]}
    assert client.put(f"{API}/reports/{report['id']}", json=edit, headers=h).status_code == 200
    report = client.get(f"{API}/studies/{uid}/report", headers=h).json()
    assert _kinds(report).count(UNFAMILIAR_FILM) == 1 and _kinds(report)[0] == UNFAMILIAR_FILM
    assert "hallucination" in _kinds(report)  # the guard did re-run on the edited text

    findings = [{"label": "cardiomegaly", "presence": "present", "severity": "moderate"}]
    regenerated = client.post(f"{API}/reports/{report['id']}/regenerate",
                              json={"findings": findings, "base_version": report["version"]}, headers=h)
    assert regenerated.status_code == 200, regenerated.text
    report = client.get(f"{API}/studies/{uid}/report", headers=h).json()
    assert _kinds(report) == [UNFAMILIAR_FILM]
    assert _item(client, h, uid)["unfamiliar_film"] is True


def test_film_flags_kept_once_and_first() -> None:
    unfamiliar = {"label": "film", "kind": UNFAMILIAR_FILM, "message": "m", "sentence": None}
    override = {"label": "intended_use", "kind": "intended_use", "message": "o", "sentence": None}
    guard = {"label": "effusion", "kind": "omission", "message": "g", "sentence": None}
    assert keeping_film_flags([override, unfamiliar, guard], [guard]) == [override, unfamiliar, guard]
    assert keeping_film_flags([guard], [unfamiliar, guard]) == [unfamiliar, guard]  # a new draft's own
    assert keeping_film_flags([unfamiliar], [{**unfamiliar, "message": "new"}]) == [unfamiliar]
    assert keeping_film_flags(None, [guard]) == [guard]
