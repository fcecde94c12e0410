"""STOW-RS: each part of a ``multipart/related`` body stored like a C-STORE, answered per instance.

A part is stored only when it is durably written and indexed (new, or identical to what is stored);
every other part is listed in the Failed SOP Sequence with the C-STORE failure code the listener would
send (PS3.18 10.5.3), so the sender knows exactly which instances to resend.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from medvlm.pacs import status as st
from medvlm.service.dicomweb.multipart import DICOM, Part
from medvlm.service.intake.intake import Actor, Item, intake
from medvlm.settings import Settings


@dataclass
class StowOutcome:
    stored: list[tuple[str, str, str]] = field(default_factory=list)  # SOP Class UID, SOP UID, its URL path
    failed: list[tuple[str, str, int, str]] = field(default_factory=list)  # ... + status, reason
    study_uids: list[str] = field(default_factory=list)
    ingested: int = 0
    duplicates: int = 0
    new_studies: set[str] = field(default_factory=set)


def _uids(file: IO[bytes]) -> tuple[str, str, str]:
    """SOP Class UID, SOP Instance UID and the instance's WADO-RS path; empty when unreadable."""
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            file.seek(0)
            ds = pydicom.dcmread(file, stop_before_pixels=True, force=True)
            sop_class, sop_uid = str(ds.get("SOPClassUID", "")), str(ds.get("SOPInstanceUID", ""))
            path = f"/studies/{ds.get('StudyInstanceUID', '')}/series/{ds.get('SeriesInstanceUID', '')}"
            return sop_class, sop_uid, f"{path}/instances/{sop_uid}"
    except Exception:  # pydicom raises many types for malformed data
        return "", "", ""


def store_parts(settings: Settings, actor: Actor, parts: Iterable[Part]) -> StowOutcome:
    outcome = StowOutcome()
    for number, part in enumerate(parts, start=1):
        sop_class, sop_uid, path = _uids(part.file)  # the header only: a part is read whole once
        if part.content_type != DICOM:
            reason = f"part {number} is {part.content_type}, not {DICOM}"
            outcome.failed.append((sop_class, sop_uid, st.CANNOT_UNDERSTAND, reason))
            continue
        if part.size > settings.max_file_bytes:
            reason = f"part {number}: {part.size} bytes, over MEDVLM_MAX_FILE_BYTES"
            outcome.failed.append((sop_class, sop_uid, st.OUT_OF_RESOURCES, reason))
            continue
        report = intake(settings, actor, Item(f"stow-part-{number}.dcm", part.read()))
        if report.rejected:
            rejection = report.rejected[0]
            outcome.failed.append((sop_class, sop_uid, st.status_for_rejection(rejection), rejection.reason))
        elif report.conflicts:
            reason = report.conflict_reasons[0].reason if report.conflict_reasons else "conflict"
            outcome.failed.append((sop_class, sop_uid, st.CONFLICT, reason))
        else:
            outcome.stored.append((sop_class, sop_uid, path))
            outcome.ingested += report.ingested
            outcome.duplicates += report.duplicates
            outcome.study_uids += [u for u in report.study_instance_uids if u not in outcome.study_uids]
            outcome.new_studies |= set(report.new_study_instance_uids)
    return outcome


def response_json(outcome: StowOutcome, base_url: str) -> dict[str, Any]:
    """The Store Instances Response Module (PS3.18 Table 10.5.3-1) as DICOM JSON."""
    body: dict[str, Any] = {}
    if outcome.stored:
        body["00081199"] = {  # Referenced SOP Sequence
            "vr": "SQ",
            "Value": [
                {
                    "00081150": {"vr": "UI", "Value": [sop_class]},
                    "00081155": {"vr": "UI", "Value": [sop_uid]},
                    "00081190": {"vr": "UR", "Value": [base_url + path]},
                }
                for sop_class, sop_uid, path in outcome.stored
            ],
        }
    if outcome.failed:
        body["00081198"] = {  # Failed SOP Sequence
            "vr": "SQ",
            "Value": [
                {
                    **({"00081150": {"vr": "UI", "Value": [c]}} if c else {}),
                    **({"00081155": {"vr": "UI", "Value": [u]}} if u else {}),
                    "00081197": {"vr": "US", "Value": [code]},  # Failure Reason
                    "00000902": {"vr": "LO", "Value": [reason[:64]]},  # Error Comment
                }
                for c, u, code, reason in outcome.failed
            ],
        }
    return body
