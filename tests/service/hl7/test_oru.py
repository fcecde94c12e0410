"""The ORU^R01 of a signed report: valid v2.5.1 (hl7apy), parsed back field by field, free text escaped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hl7apy.parser import parse_message

from medvlm.service.exports.context import ReportContext
from medvlm.service.hl7.errors import Hl7BuildError
from medvlm.service.hl7.oru import Endpoints, build_oru, escape
from tests.service.exports.report_fixtures import FINDINGS_TEXT, chest_film_path, make_context

ENDPOINTS = Endpoints("MEDVLM", "RAD", "RIS", "HOSP")


@pytest.fixture(scope="module")
def signed() -> ReportContext:
    return make_context(chest_film_path(), signed=True, accession_number="ACC|42",
                        patient_name="Doe^Jane^Q", patient_id="P-7")


def _obx(message: str) -> list[tuple[str, str, str]]:
    parsed = parse_message(message, find_groups=True)
    order = parsed.oru_r01_patient_result.oru_r01_order_observation
    return [(o.obx.obx_3.obx_3_1.value, o.obx.obx_5.value, o.obx.obx_11.value)
            for o in order.oru_r01_observation]


@pytest.mark.parametrize(("event", "status"), [("signed", "F"), ("addendum", "C")])
def test_oru_parses_back(signed: ReportContext, event: str, status: str) -> None:
    text = build_oru(signed, event=event, control_id="C123", endpoints=ENDPOINTS,  # type: ignore[arg-type]
                     now=datetime(2026, 3, 14, 10, 0, tzinfo=UTC))
    parsed = parse_message(text, find_groups=True)
    parsed.validate()
    msh = parsed.msh
    assert (msh.msh_3.value, msh.msh_5.value, msh.msh_9.value, msh.msh_10.value, msh.msh_12.value) == (
        "MEDVLM", "RIS", "ORU^R01^ORU_R01", "C123", "2.5.1")
    result = parsed.oru_r01_patient_result
    pid = result.oru_r01_patient.pid
    assert pid.pid_3.value == "P-7" and pid.pid_5.value == "Doe^Jane^Q" and pid.pid_7.value == "19400305"
    obr = result.oru_r01_order_observation.obr
    assert obr.obr_3.value == "ACC\\F\\42"  # the | of the accession number escaped, not a field break
    assert obr.obr_25.value == status and obr.obr_32.value == "Dr. Ada Lovelace"
    obx = _obx(text)
    assert obx[0] == ("110180", signed.study_instance_uid, status)
    findings = [value for code, value, _ in obx if code == "18782-3"]
    assert findings[0].startswith("Small left pleural effusion") and "\\T\\ no rib" in findings[0]
    assert len(findings) == len(FINDINGS_TEXT.splitlines())
    assert [v for c, v, _ in obx if c == "55107-7"][1] == "Comparison with prior film: effusion unchanged."
    assert "tiny-2026.03.1" in text  # the model that drafted it, in an NTE


@pytest.mark.parametrize(("raw", "escaped"), [
    ("a|b", "a\\F\\b"), ("x^y&z~w", "x\\S\\y\\T\\z\\R\\w"), ("back\\slash", "back\\E\\slash"),
    ("plain", "plain"),
])
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


@pytest.mark.parametrize(("overrides", "event", "control_id", "expected"), [
    ({"signed": False}, "signed", "C1", "only signed reports"),
    ({"signed": True, "addenda": []}, "addendum", "C1", "no addendum"),
    ({"signed": True}, "signed", "x" * 21, "1-20 characters"),
])
def test_refuses(overrides: dict, event: str, control_id: str, expected: str) -> None:
    ctx = make_context(chest_film_path(), **overrides)
    with pytest.raises(Hl7BuildError, match=expected):
        build_oru(ctx, event=event, control_id=control_id, endpoints=ENDPOINTS)  # type: ignore[arg-type]
