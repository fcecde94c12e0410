"""The indication of a study (why it was requested), as de-identified text for the prompt.

From an IU report: its INDICATION section (already de-identified by the corpus: ``XXXX`` placeholders,
which carry nothing and are dropped). From DICOM: the request attributes, in the order they carry the
reason in practice. IHE Scheduled Workflow copies the worklist's Reason for the Requested Procedure
(0040,1002) into the image's Request Attributes Sequence (0040,0275), and some modalities write it at top
level too; a coded reason (0040,100A) gives its meaning; older systems use Reason for Study (0032,1030,
retired) or the Admitting Diagnoses Description (0008,1080). The Requested Procedure Description
(0032,1060) names the exam ("XR CHEST 2V"), not why, so it is not an indication. Free text from DICOM may
name people or dates: it goes through ``medvlm.compliance.deid_text.deidentify_text`` before use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydicom.dataset import Dataset

from medvlm.compliance.deid_text import deidentify_text
from medvlm.corpus.iu import PLACEHOLDER

# keywords read in this order, at top level and in each RequestAttributesSequence item
REASON_KEYWORDS = ("ReasonForTheRequestedProcedure", "ReasonForStudy", "AdmittingDiagnosesDescription")
_PLACEHOLDER = re.compile(PLACEHOLDER.pattern + r"[-\s]*")  # with the hyphen or space that followed it


def clean(text: str) -> str:
    """One line: IU ``XXXX`` placeholders dropped, whitespace collapsed, edge punctuation trimmed."""
    text = _PLACEHOLDER.sub(" ", text or "")
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r" ([,.;:])", r"\1", text).strip(" .,;:-")  # "test XXXX, evaluate" -> "test, evaluate"
    return text


def from_report(indication: str | None) -> str:
    """An IU report's (or a manifest record's) indication text, cleaned; '' when there is none."""
    return clean(indication or "")


def _text(ds: Dataset, keyword: str) -> str:
    value = getattr(ds, keyword, None)
    if value is None:
        return ""
    if not isinstance(value, str) and hasattr(value, "__iter__"):  # multi-valued (AdmittingDiagnoses)
        return "; ".join(str(v) for v in value if str(v).strip())
    return str(value)


def _coded(ds: Dataset) -> str:
    items = getattr(ds, "ReasonForRequestedProcedureCodeSequence", None) or []
    return "; ".join(str(getattr(i, "CodeMeaning", "") or "") for i in items if getattr(i, "CodeMeaning", ""))


def _candidates(ds: Dataset) -> Iterator[str]:
    levels = [ds, *(getattr(ds, "RequestAttributesSequence", None) or [])]
    for keyword in REASON_KEYWORDS[:1]:
        for level in levels:
            yield _text(level, keyword)
    for level in levels:
        yield _coded(level)
    for keyword in REASON_KEYWORDS[1:]:
        for level in levels:
            yield _text(level, keyword)


def from_dicom(ds: Dataset) -> str:
    """The first non-empty reason in the request attributes, de-identified and cleaned ('' when none)."""
    for text in _candidates(ds):
        if text.strip():
            return clean(deidentify_text(text))
    return ""
