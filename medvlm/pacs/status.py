"""C-STORE response statuses (PS3.4 B.2.3) and how an ingest outcome maps onto them.

Only a file that is durably stored and indexed (new or an identical duplicate) gets Success; every other
outcome is a Failure, so the sender keeps its copy and can retry or alert.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from medvlm.dicom.reader import Rejection

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700  # over a configured limit, disk or database unavailable: retry may succeed
DOES_NOT_MATCH_SOP_CLASS = 0xA900  # the data set is not what the presentation context announced
CANNOT_UNDERSTAND = 0xC000  # unreadable, not an image we can store, missing required attributes
CONFLICT = 0xC001  # same SOP Instance UID already stored with different bytes ("cannot understand" range)


def status_for_rejection(rejection: Rejection) -> int:
    """Resource trouble (worth a retry) is Out of Resources; anything about the data is Cannot Understand."""
    return OUT_OF_RESOURCES if rejection.transient else CANNOT_UNDERSTAND


def failure(status: int, comment: str) -> Dataset:
    """A status data set with an Error Comment (LO: at most 64 characters) naming the problem."""
    ds = Dataset()
    ds.Status = status
    ds.ErrorComment = _lo(comment)
    return ds


def _lo(text: str) -> str:
    clean = "".join(ch if 32 <= ord(ch) < 127 and ch != "\\" else " " for ch in text).strip()
    return clean[:64]


def describe(status: int) -> str:
    """A readable name for a C-STORE status, for the sender's error messages."""
    if status == SUCCESS:
        return "Success"
    if status in (0xB000, 0xB007, 0xB006):
        return "Warning"
    if 0xA700 <= status <= 0xA7FF:
        return "Refused: Out of Resources"
    if 0xA900 <= status <= 0xA9FF:
        return "Error: Data Set does not match SOP Class"
    if 0xC000 <= status <= 0xCFFF:
        return "Error: Cannot understand"
    if status == 0x0122:
        return "Refused: SOP Class not supported"
    if status == 0x0124:
        return "Refused: Not authorized"
    if status == 0x0211:
        return "Unrecognized operation"
    return "Failure"
