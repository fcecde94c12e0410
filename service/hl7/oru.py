"""A signed report as an HL7 v2.5.1 ORU^R01 (unsolicited observation result), built and validated with hl7apy.

What a RIS expects of a radiology result (IHE Radiology, "Reporting" / HL7 ORU in practice):
- PID with the patient's id, name, birth date and sex as the study carries them;
- ORC / OBR with the accession number as placer and filler order number (how the RIS finds its order),
  the procedure (study description), the study time, the result status and the signing radiologist
  (OBR-32, principal result interpreter);
- OBX, one TX line each, for the findings (LOINC 18782-3), the impression (19005-8) and each addendum
  (55107-7 Addendum), plus the Study Instance UID (DCM 110180) so a viewer can open the images.
Result status: ``F`` (final) at signature, ``C`` (corrected) when an addendum follows; each message carries
the whole report, so the receiver may simply replace what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from hl7apy.core import Message

from medvlm.service.exports.context import ReportContext
from medvlm.service.hl7.errors import Hl7BuildError

Event = Literal["signed", "addendum"]
VERSION = "2.5.1"
_FINDINGS = "18782-3^Radiology Study observation (narrative)^LN"
_IMPRESSION = "19005-8^Radiology Imaging study [Impression] (narrative)^LN"
_ADDENDUM = "55107-7^Addendum^LN"
_STUDY_UID = "110180^Study Instance UID^DCM"


@dataclass(frozen=True)
class Endpoints:
    """MSH-3..6: who sends and who receives (the interface engine routes on these)."""

    sending_application: str = "MEDVLM"
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""


def escape(text: str) -> str:
    """Free text made safe for a field: the escape character first, then the delimiters (HL7 2.5.1 2.7)."""
    text = text.replace("\\", "\\E\\")
    for char, code in (("|", "F"), ("^", "S"), ("&", "T"), ("~", "R")):
        text = text.replace(char, f"\\{code}\\")
    return text


def _ts(value: datetime) -> str:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()] or [""]


def build_oru(ctx: ReportContext, *, event: Event, control_id: str, endpoints: Endpoints,
              now: datetime | None = None) -> str:
    """The ER7 text (segments separated by CR) of one ORU^R01 for ``ctx``; refuses an unsigned report."""
    if not ctx.is_signed or ctx.signer is None or ctx.signed_at is None:
        raise Hl7BuildError(
            f"report {ctx.report_id} is {ctx.status.value}: only signed reports go to the RIS")
    if event == "addendum" and not ctx.addenda:
        raise Hl7BuildError(f"report {ctx.report_id} has no addendum to send")
    if not 0 < len(control_id) <= 20:
        raise Hl7BuildError(f"MSH-10 control id must be 1-20 characters, got {control_id!r}")
    now = now or datetime.now(UTC)
    status = "F" if event == "signed" else "C"
    msg = Message("ORU_R01", version=VERSION)
    msh = msg.msh
    msh.msh_3 = escape(endpoints.sending_application)
    msh.msh_4 = escape(endpoints.sending_facility)
    msh.msh_5 = escape(endpoints.receiving_application)
    msh.msh_6 = escape(endpoints.receiving_facility)
    msh.msh_7 = _ts(now)
    msh.msh_9 = "ORU^R01^ORU_R01"
    msh.msh_10 = control_id
    msh.msh_11 = "P"
    msh.msh_15 = "AL"  # accept acknowledgement: always (original mode ACK carries it anyway)
    msh.msh_18 = "UNICODE UTF-8"

    result = msg.add_group("ORU_R01_PATIENT_RESULT")
    pid = result.add_group("ORU_R01_PATIENT").pid
    pid.pid_1 = "1"
    pid.pid_3 = escape(ctx.patient_id) or "UNKNOWN"
    # DICOM PN (family^given^middle^prefix^suffix) has XPN's first five components in the same order.
    pid.pid_5 = "^".join(escape(part) for part in ctx.patient_name.split("^")[:5])
    if ctx.patient_birth_date:
        pid.pid_7 = ctx.patient_birth_date.strftime("%Y%m%d")
    if ctx.patient_sex:
        pid.pid_8 = {"M": "M", "F": "F", "O": "O"}.get(ctx.patient_sex.upper(), "U")

    order = result.add_group("ORU_R01_ORDER_OBSERVATION")
    accession = escape(ctx.accession_number)
    order.orc.orc_1 = "RE"  # observations to follow
    order.orc.orc_2 = accession
    order.orc.orc_3 = accession
    order.orc.orc_5 = "CM"  # order completed
    obr = order.obr
    obr.obr_1 = "1"
    obr.obr_2 = accession
    obr.obr_3 = accession
    procedure = escape(ctx.study_description or f"{ctx.modality} study".strip())
    obr.obr_4 = f"{escape(ctx.study_id) or accession or 'STUDY'}^{procedure}"
    if ctx.study_date:
        time_of_day = ctx.study_time.split(".")[0][:6] if ctx.study_time else ""
        obr.obr_7 = ctx.study_date.strftime("%Y%m%d") + time_of_day
    obr.obr_22 = _ts(ctx.addenda[-1].created_at if event == "addendum" else ctx.signed_at)
    obr.obr_24 = "RAD"
    obr.obr_25 = status
    obr.obr_32 = escape(ctx.signer)

    observations: list[tuple[str, str, str]] = [("ST", _STUDY_UID, escape(ctx.study_instance_uid))]
    observations += [("TX", _FINDINGS, escape(line)) for line in _lines(ctx.findings_text)]
    observations += [("TX", _IMPRESSION, escape(line)) for line in _lines(ctx.impression)]
    for addendum in ctx.addenda:
        header = f"Addendum by {addendum.author}, {addendum.created_at:%Y-%m-%d %H:%M} UTC:"
        observations += [("TX", _ADDENDUM, escape(line)) for line in [header, *_lines(addendum.text)]]
    for index, (value_type, code, value) in enumerate(observations, start=1):
        obx = order.add_group("ORU_R01_OBSERVATION").obx
        obx.obx_1 = str(index)
        obx.obx_2 = value_type
        obx.obx_3 = code
        obx.obx_5 = value
        obx.obx_11 = status
    if ctx.model_version:  # the AI's part, said where the RIS shows it
        nte = order.add_segment("NTE")
        nte.nte_1 = "1"
        nte.nte_3 = escape(f"Draft prepared by MedVLM model {ctx.model_version}; reviewed and signed by "
                           f"{ctx.signer}.")
    try:
        msg.validate()
    except Exception as exc:  # hl7apy's ValidationError: a message the RIS would reject is our bug
        raise Hl7BuildError(f"ORU^R01 for report {ctx.report_id} does not validate: {exc}") from exc
    return msg.to_er7()
