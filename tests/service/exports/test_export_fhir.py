"""The FHIR DiagnosticReport export, validated with the fhir.resources models."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation

from medvlm.service.exports.context import Addendum, ReportContext
from medvlm.service.exports.errors import ExportError
from medvlm.service.exports.fhir import diagnostic_report, validate
from tests.service.exports.report_fixtures import IMPRESSION, make_context


@pytest.fixture(scope="module")
def signed_report(signed_ctx: ReportContext) -> dict:
    return diagnostic_report(signed_ctx)


def test_report_validates_and_round_trips_as_json(signed_report: dict) -> None:
    model = DiagnosticReport.model_validate(json.loads(json.dumps(signed_report)))
    assert model.code.coding[0].code == "18748-4"
    assert model.imagingStudy[0].identifier.value == "urn:oid:1.3.6.1.4.1.5962.1.2.9.20040826185059.5457"
    assert model.conclusion == IMPRESSION
    assert model.resultsInterpreter[0].display == "Dr. Ada Lovelace"
    assert model.issued.isoformat().startswith("2026-03-14T09:26:53")
    assert model.extension[0].valueString == "tiny-2026.03.1"


def test_one_observation_per_reported_finding(signed_report: dict) -> None:
    model = DiagnosticReport.model_validate(signed_report)
    observations = [r for r in model.contained if isinstance(r, Observation)]
    assert [o.code.coding[0].code for o in observations] == ["pleural_effusion", "pneumothorax", "nodule"]
    assert [r.reference for r in model.result] == ["#finding-1", "#finding-2", "#finding-3"]
    effusion, pneumothorax, nodule = observations
    assert effusion.bodySite.coding[0].code == "7771000"  # left
    assert effusion.component[0].valueQuantity.value == 87
    assert effusion.component[1].valueString == "small"
    assert pneumothorax.interpretation[0].coding[0].code == "AA"
    assert effusion.interpretation is None
    assert nodule.valueCodeableConcept.coding[0].code == "419984006"  # uncertain -> inconclusive
    assert nodule.bodySite.text == "right upper lobe"
    assert {o.status for o in observations} == {"final"}


def test_presented_form_holds_the_text_and_the_pdf(signed_ctx: ReportContext) -> None:
    report = diagnostic_report(signed_ctx, pdf_bytes=b"%PDF-1.4 tiny")
    text = base64.b64decode(report["presentedForm"][0]["data"]).decode("utf-8")
    assert "IMPRESSION:\n" + IMPRESSION in text
    assert "AI-assisted draft, reviewed and signed by Dr. Ada Lovelace" in text
    assert base64.b64decode(report["presentedForm"][1]["data"]) == b"%PDF-1.4 tiny"


@pytest.mark.parametrize(("signed", "addenda", "status"), [
    (False, False, "preliminary"), (True, False, "final"), (True, True, "appended")])
def test_status(film: Path, signed: bool, addenda: bool, status: str) -> None:
    from datetime import UTC, datetime

    extra = [Addendum("late note", "Dr. B", datetime(2026, 3, 15, tzinfo=UTC))] if addenda else []
    report = diagnostic_report(make_context(film, signed=signed, addenda=extra))
    assert report["status"] == status
    assert {o["status"] for o in report["contained"][1:]} == {"final" if signed else "preliminary"}
    assert ("resultsInterpreter" in report) is signed


def test_patient_with_unicode_name_and_no_findings(film: Path) -> None:
    report = diagnostic_report(make_context(film, signed=False, findings=[], patient_name="Müller^Zoë",
                                            patient_sex="X"))
    patient = report["contained"][0]
    assert patient["name"][0] == {"text": "Müller Zoë", "family": "Müller", "given": ["Zoë"]}
    assert patient["gender"] == "unknown"
    assert "result" not in report
    DiagnosticReport.model_validate(report)


TAMPERED: list[tuple[str, Callable[[dict], None], str]] = [
    ("unknown report status", lambda r: r.__setitem__("status", "approved"), "status 'approved'"),
    ("unknown observation status", lambda r: r["contained"][1].__setitem__("status", "done"),
     "status 'done'"),
    ("missing code", lambda r: r.pop("code"), "failed validation"),
    ("bad probability", lambda r: r["contained"][1]["component"][0]["valueQuantity"].update(value="x"),
     "failed validation"),
    ("two values", lambda r: r["contained"][1].__setitem__("valueString", "x"), "failed validation"),
    ("unreferenced contained", lambda r: r.__setitem__("result", r["result"][1:]), "not referenced"),
    ("unknown element", lambda r: r.__setitem__("score", 1), "failed validation"),
]


@pytest.mark.parametrize(("name", "tamper", "message"), TAMPERED, ids=[t[0] for t in TAMPERED])
def test_validate_rejects_malformed_reports(signed_report: dict, name: str, tamper: Callable[[dict], None],
                                            message: str) -> None:
    broken = copy.deepcopy(signed_report)
    tamper(broken)
    with pytest.raises(ExportError, match=message):
        validate(broken)
