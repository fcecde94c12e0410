"""ACK handling: AA/CA accepted, AE/CE retried, AR/CR given up, anything else treated as no answer."""

from __future__ import annotations

import pytest

from medvlm.service.hl7.errors import Hl7DeliveryError
from medvlm.service.hl7.mllp import check_ack

MSH = "MSH|^~\\&|RIS|HOSP|MEDVLM||20250101||ACK|1|P|2.5.1\r"


@pytest.mark.parametrize("code", ["AA", "CA"])
def test_accepts(code: str) -> None:
    assert check_ack(f"{MSH}MSA|{code}|C1\r", "C1") == code


@pytest.mark.parametrize(("ack", "retry", "match"), [
    (f"{MSH}MSA|AE|C1|busy\r", True, "AE: application error \\(busy\\)"),
    (f"{MSH}MSA|CE|C1\r", True, "application error"),
    (f"{MSH}MSA|AR|C1|no such order\r", False, "rejected \\(no such order\\)"),
    (f"{MSH}MSA|CR|C1\r", False, "rejected"),
    (f"{MSH}MSA|AA|C2\r", True, "for message 'C2', not 'C1'"),
    (f"{MSH}MSA|ZZ|C1\r", True, "unknown MSA-1"),
    ("hello", True, "not an HL7 ACK"),
    (f"{MSH}", True, "not an HL7 ACK"),
])
def test_refuses(ack: str, retry: bool, match: str) -> None:
    with pytest.raises(Hl7DeliveryError, match=match) as info:
        check_ack(ack, "C1")
    assert info.value.retry is retry
