"""HL7v2 ORU^R01 result messages -> ``SourceReport`` (parsed with hl7apy, the library that builds ours).

Where the identifiers are (IHE Radiology practice, and what ``service/hl7/oru.py`` sends): PID-3 patient
id, PID-5 name, OBR-2/3 placer/filler order number = accession, OBR-7 observation time, OBR-22 result
time (the signature), OBR-32 the signing radiologist, OBX-5 the text lines: LOINC 18782-3 findings,
19005-8 impression, DCM 110180 the Study Instance UID; other TX/FT lines count as findings. A file may hold
several messages (a batch), each starting with MSH.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

from medvlm.dataset.importer.reports import ImportInputError, SourceReport, parse_date

_ESCAPES = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\", ".br": "\n"}
_ESCAPE = re.compile(r"\\(F|S|T|R|E|\.br)\\")
_IMPRESSION_CODES = ("19005-8",)
_FINDINGS_CODES = ("18782-3",)
_STUDY_UID_CODES = ("110180",)


def unescape(text: str) -> str:
    """The inverse of HL7 2.5.1 section 2.7 escaping (what ``service.hl7.oru.escape`` writes)."""
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group(1)], text)


def _messages(text: str) -> list[str]:
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    segments = [s for s in text.split("\r") if s.strip()]
    messages: list[list[str]] = []
    for seg in segments:
        if seg.startswith("MSH") or not messages:
            messages.append([])
        messages[-1].append(seg)
    return ["\r".join(m) for m in messages]


def _field(segment: object, name: str) -> str:
    value = getattr(segment, name, None)
    return value.to_er7() if value is not None else ""


def _component(er7: str, index: int = 0) -> str:
    parts = er7.split("^")
    return unescape(parts[index]) if index < len(parts) else ""


def _one(message: str, where: str) -> SourceReport:
    if not message.startswith("MSH"):
        raise ImportInputError(f"{where}: does not start with an MSH segment")
    try:
        parsed = parse_message(message, find_groups=False)
    except HL7apyException as exc:
        raise ImportInputError(f"{where}: not a readable HL7 v2 message ({exc})") from None
    kind = _field(parsed.msh, "msh_9")
    if not kind.startswith("ORU^R01"):
        raise ImportInputError(f"{where}: message type {kind or 'missing'!r}, expected ORU^R01")
    report = SourceReport(where, "hl7", "", "")
    findings: list[str] = []
    impression: list[str] = []
    for segment in parsed.children:
        if segment.name == "PID":
            report.patient_id = _component(_field(segment, "pid_3"))
            report.names.append(unescape(_field(segment, "pid_5")))
        elif segment.name == "OBR" and not report.accession:
            report.accession = _component(_field(segment, "obr_3")) or _component(_field(segment, "obr_2"))
            signed = _field(segment, "obr_22") or _field(segment, "obr_7")
            report.date = parse_date(_component(signed), f"{where} OBR")
            report.names += [unescape(p) for p in _field(segment, "obr_32").split("^") if p]
        elif segment.name == "OBX":
            code = _component(_field(segment, "obx_3"))
            value = "\n".join(unescape(v) for v in _field(segment, "obx_5").split("~"))
            if code in _STUDY_UID_CODES:
                report.study_uid = value.strip()
            elif code in _IMPRESSION_CODES:
                impression.append(value)
            elif _field(segment, "obx_2") in ("TX", "FT", "ST") or code in _FINDINGS_CODES:
                findings.append(value)
    report.findings_text = "\n".join(findings).strip()
    report.impression = "\n".join(impression).strip()
    return report


def read_hl7(path: Path) -> Iterator[SourceReport]:
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise ImportInputError(f"{path}: cannot be read ({exc.strerror})") from None
    for number, message in enumerate(_messages(text), 1):
        yield _one(message, f"{path}#message{number}")
