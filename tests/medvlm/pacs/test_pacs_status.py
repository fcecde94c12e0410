"""C-STORE statuses for ingest outcomes: the machine's trouble may be retried, the file's may not."""

from __future__ import annotations

import pytest

from medvlm.dicom.reader import Rejection
from medvlm.pacs import status as st


@pytest.mark.parametrize(
    ("rejection", "expected"),
    [
        (Rejection("x.dcm", "could not be read: [Errno 5] Input/output error", transient=True),
         st.OUT_OF_RESOURCES),
        (Rejection("x.dcm", "database busy, not indexed: database is locked", transient=True),
         st.OUT_OF_RESOURCES),
        (Rejection("x.dcm", "not a DICOM file: no 'DICM' marker"), st.CANNOT_UNDERSTAND),
        # The wording does not decide: a data problem that happens to mention a read stays permanent.
        (Rejection("x.dcm", "could not be read as an image: no Pixel Data"), st.CANNOT_UNDERSTAND),
    ],
)
def test_status_for_rejection(rejection: Rejection, expected: int) -> None:
    assert st.status_for_rejection(rejection) == expected


@pytest.mark.parametrize(
    ("comment", "sent"),
    [("short", "short"), ("x" * 80, "x" * 64), ("back\\slash\nnewline", "back slash newline")],
)
def test_failure_comment_fits_an_lo_value(comment: str, sent: str) -> None:
    ds = st.failure(st.CANNOT_UNDERSTAND, comment)
    assert ds.Status == st.CANNOT_UNDERSTAND and ds.ErrorComment == sent
