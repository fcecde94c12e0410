"""STOW-RS bodies through python-multipart's streaming parser (``service.dicomweb.multipart``): what a
malformed body gets (422 naming the problem, never a 5xx), and a body sent chunked in odd pieces to the
running service is stored exactly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from medvlm.service.dicomweb.multipart import RelatedReader, parse_related
from medvlm.service.errors import InvalidInputError, UnsupportedMediaError
from tests.service.helpers import dicom_bytes, related

KIND = 'multipart/related; type="application/dicom"; boundary=b0undary'


@pytest.mark.parametrize(
    ("body", "content_type", "error", "message"),
    [
        (b"", KIND, InvalidInputError, "no '--b0undary' delimiter"),
        (b"--b0undary\r\nContent-Type: application/dicom\r\n\r\nDATA", KIND, InvalidInputError, "not closed"),
        (b"--b0undary\r\nBad Header\r\n\r\nX\r\n--b0undary--", KIND, InvalidInputError, "malformed"),
        (b"--b0undaryX\r\n", KIND, InvalidInputError, "malformed"),
        (b"--b0undary\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\nX\r\n--b0undary--", KIND, InvalidInputError,
         "malformed"),
        (b"", "multipart/related; boundary=" + "b" * 300, InvalidInputError, "unusable multipart boundary"),
        (b"", "multipart/form-data; boundary=x", UnsupportedMediaError, "expected multipart/related"),
        (b"", 'multipart/related; type="image/jpeg"; boundary=x', UnsupportedMediaError, "only application"),
    ],
    ids=["empty", "unclosed", "header-no-colon", "bad-delimiter", "header-too-long", "boundary-too-long",
         "form-data", "jpeg-root"],
)
def test_malformed_bodies_name_the_problem(body: bytes, content_type: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        parse_related(body, content_type, chunk=5)


def test_parts_are_spooled_not_held() -> None:
    """Each part lands in a temporary file of its own, its size known before it is read."""
    body, headers = related(("application/dicom", b"x" * 100_000), ("application/dicom", b"y"))
    with RelatedReader(headers["Content-Type"]) as reader:
        for start in range(0, len(body), 4096):
            reader.feed(body[start:start + 4096])
        parts = reader.close()
        assert [p.size for p in parts] == [100_000, 1] and parts[0].read() == b"x" * 100_000
        assert all(p.file.fileno() > 0 for p in parts)
    assert all(p.file.closed for p in parts)  # deleted with the reader


def test_chunked_stow_to_the_running_service(base_url: str, callers) -> None:  # type: ignore[no-untyped-def]
    films = [dicom_bytes(study_uid="1.2.826.0.1.99.7"), dicom_bytes(study_uid="1.2.826.0.1.99.7")]
    body, headers = related(*[("application/dicom", f) for f in films])

    def pieces() -> Iterator[bytes]:  # chunked transfer in odd sizes: delimiters split across chunks
        sizes = [1, 7, 13, 4093, 65537]
        position = 0
        while position < len(body):
            size = sizes[position % len(sizes)]
            yield body[position:position + size]
            position += size

    answer = requests.post(f"{base_url}/studies", data=pieces(), headers={**headers, **callers.integration},
                           timeout=60)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["00081199"]["Value"]) == 2
