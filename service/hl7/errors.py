"""HL7 errors: a message that cannot be built, and a delivery that failed (with whether to retry)."""

from __future__ import annotations

from medvlm.errors import MedVLMError


class Hl7BuildError(MedVLMError):
    """The report cannot be expressed as a valid ORU^R01 (unsigned, no addendum, bad control id)."""


class Hl7DeliveryError(MedVLMError):
    """Sending failed; ``retry`` says whether a later attempt may succeed (AE, no answer) or not (AR)."""

    def __init__(self, message: str, *, retry: bool = True, ack_code: str | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.ack_code = ack_code
