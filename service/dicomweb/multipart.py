"""``multipart/related`` bodies (RFC 2387), as DICOMweb sends and expects instances.

Parsing is python-multipart's streaming ``MultipartParser`` (the parser Starlette uses for forms; it takes
any boundary, so it serves multipart/related too). It is fed the request as it arrives and each part's
bytes go straight to an anonymous temporary file: the process never holds the body, only a chunk, and
later one part at a time (issue 19's memory bound). Bytes are kept exactly (no charset decoding, no
line-ending changes): a DICOM file is binary. Only the parts' ``Content-Type`` is read from their headers.
A malformed body is refused (``InvalidInputError``, 422) when it ends, before any part is stored.

Answers are written by ``stream_related``: the maintained multipart encoders we know (requests-toolbelt's
``MultipartEncoder``, urllib3's ``encode_multipart_formdata``) write ``multipart/form-data`` parts with a
``Content-Disposition`` header, not WADO-RS's ``multipart/related``; the writer is a dozen lines.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any

from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState

from medvlm.service.errors import InvalidInputError, UnsupportedMediaError
from medvlm.service.studies.spool import full_disk_is_507

DICOM = "application/dicom"
MAX_HEADER_BYTES = 8192  # one part header line; DICOMweb parts carry one or two short headers
_IN_HEADERS = {
    MultipartState.HEADER_FIELD_START,
    MultipartState.HEADER_FIELD,
    MultipartState.HEADER_VALUE_START,
    MultipartState.HEADER_VALUE,
    MultipartState.HEADER_VALUE_ALMOST_DONE,
    MultipartState.HEADERS_ALMOST_DONE,
}


def media_params(header: str) -> tuple[str, dict[str, str]]:
    """``type/subtype`` (lower case) and its parameters (names lower case, quotes removed)."""
    media, *rest = header.split(";")
    params = {}
    for item in rest:
        name, sep, value = item.strip().partition("=")
        if sep:
            params[name.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), params


@dataclass
class Part:
    """One part, spooled: its bytes are read only when it is its turn to be stored."""

    content_type: str
    file: IO[bytes]
    size: int

    def read(self) -> bytes:
        self.file.seek(0)
        return self.file.read()


class RelatedReader:
    """Feed a ``multipart/related; type="application/dicom"`` body chunk by chunk, then ``close()`` for
    its parts. Use as a context manager: the parts' temporary files are deleted on exit."""

    def __init__(self, content_type: str) -> None:
        media, params = media_params(content_type)
        if media != "multipart/related":
            raise UnsupportedMediaError(
                f"expected multipart/related; type=\"{DICOM}\", got '{content_type or 'no content type'}'"
            )
        self.root_type = params.get("type", DICOM).lower()
        if self.root_type != DICOM:
            raise UnsupportedMediaError(
                f"multipart/related parts of type '{self.root_type}': only {DICOM} is stored"
            )
        boundary = params.get("boundary")
        if not boundary:
            raise InvalidInputError("multipart/related without a boundary parameter")
        self.boundary = boundary
        self._delimiter = b"--" + boundary.encode("latin-1")
        self._preamble: bytes | None = b""  # None once the first delimiter is found
        self.parts: list[Part] = []
        self._files = ExitStack()  # the parts' temporary files, closed (deleted) on exit
        self._file: IO[bytes] | None = None
        self._size = 0
        self._header: list[bytearray] = [bytearray(), bytearray()]
        self._type = self.root_type
        try:
            self._parser = MultipartParser(boundary, self._callbacks(), max_header_size=MAX_HEADER_BYTES)
        except FormParserError as exc:  # a boundary over 256 characters
            raise InvalidInputError(f"unusable multipart boundary: {exc}") from None

    def _callbacks(self) -> Any:  # python-multipart's MultipartCallbacks (a TypedDict)
        def part_begin() -> None:
            spool = tempfile.TemporaryFile(prefix="medvlm-part-")  # noqa: SIM115 (closed by the ExitStack)
            self._file = self._files.enter_context(spool)
            self.parts.append(Part(self.root_type, self._file, 0))
            self._size, self._type = 0, self.root_type

        def part_data(data: bytes, start: int, end: int) -> None:
            assert self._file is not None
            self._file.write(memoryview(data)[start:end])
            self._size += end - start

        def part_end() -> None:
            self.parts[-1].size, self.parts[-1].content_type = self._size, self._type

        def header_field(data: bytes, start: int, end: int) -> None:
            self._header[0] += data[start:end]

        def header_value(data: bytes, start: int, end: int) -> None:
            self._header[1] += data[start:end]

        def header_end() -> None:
            name, value = (bytes(h).decode("latin-1") for h in self._header)
            if name.strip().lower() == "content-type":
                self._type = media_params(value)[0]
            self._header = [bytearray(), bytearray()]

        return {
            "on_part_begin": part_begin,
            "on_part_data": part_data,
            "on_part_end": part_end,
            "on_header_field": header_field,
            "on_header_value": header_value,
            "on_header_end": header_end,
        }

    def feed(self, chunk: bytes) -> None:
        if self._preamble is not None:  # RFC 2046: anything before the first delimiter is ignored
            pending = self._preamble + chunk
            start = pending.find(self._delimiter)
            if start < 0:
                self._preamble = pending[-(len(self._delimiter) - 1) :]  # a delimiter split by chunks
                return
            self._preamble, chunk = None, pending[start:]
        try:
            with full_disk_is_507("a STOW-RS part's temporary copy"):
                self._parser.write(chunk)
        except MultipartParseError as exc:
            raise InvalidInputError(f"malformed multipart/related body: {exc}") from None

    def close(self) -> list[Part]:
        """The parts, once the body is known to be whole; a body cut short or without parts is refused."""
        if self._preamble is not None:
            raise InvalidInputError(f"multipart body has no '--{self.boundary}' delimiter")
        state = self._parser.state
        if state in _IN_HEADERS:
            raise InvalidInputError("a multipart part has no blank line between its headers and its body")
        if state != MultipartState.END:
            raise InvalidInputError(f"multipart body is not closed by '--{self.boundary}--'")
        if not self.parts:
            raise InvalidInputError("multipart body has no parts")
        self._parser.finalize()
        return self.parts

    def __enter__(self) -> RelatedReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._files.close()


def parse_related(body: bytes, content_type: str, chunk: int = 1 << 16) -> list[tuple[str, bytes]]:
    """Every part of a whole body as (content type, bytes): for tests and small bodies."""
    with RelatedReader(content_type) as reader:
        for start in range(0, len(body), chunk):
            reader.feed(body[start : start + chunk])
        return [(part.content_type, part.read()) for part in reader.close()]


def stream_related(files: list[tuple[str, str]], boundary: str, chunk: int = 1 << 20) -> Iterator[bytes]:
    """A ``multipart/related`` body from stored files, read a chunk at a time: (part content type, path)."""
    for part_type, path in files:
        yield f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode("ascii")
        with open(path, "rb") as handle:
            while block := handle.read(chunk):
                yield block
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode("ascii")
