"""``multipart/related`` bodies (RFC 2387), as DICOMweb sends and expects instances.

Parsing (requests-toolbelt's decoder) keeps each part's bytes exactly (no charset decoding, no line-ending
changes): a DICOM file is binary. Only the parts' ``Content-Type`` is read from their headers.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass

from medvlm.service.errors import InvalidInputError, UnsupportedMediaError

DICOM = "application/dicom"
Buffer = bytes | mmap.mmap


@dataclass(frozen=True)
class Part:
    content_type: str
    data: bytes


def media_params(header: str) -> tuple[str, dict[str, str]]:
    """``type/subtype`` (lower case) and its parameters (names lower case, quotes removed)."""
    media, *rest = header.split(";")
    params = {}
    for item in rest:
        name, sep, value = item.strip().partition("=")
        if sep:
            params[name.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), params


def related_spans(body: Buffer, content_type: str) -> list[tuple[str, int, int]]:
    """Each part of a ``multipart/related`` body as (content type, start, end) offsets into ``body``.

    Works on bytes or on an ``mmap`` of a spooled body: only delimiters and headers are read, no part is
    copied, and a malformed body is refused before any part is stored."""
    media, params = media_params(content_type)
    if media != "multipart/related":
        raise UnsupportedMediaError(
            f"expected multipart/related; type=\"{DICOM}\", got '{content_type or 'no content type'}'"
        )
    root_type = params.get("type", DICOM).lower()
    if root_type != DICOM:
        raise UnsupportedMediaError(f"multipart/related parts of type '{root_type}': only {DICOM} is stored")
    boundary = params.get("boundary")
    if not boundary:
        raise InvalidInputError("multipart/related without a boundary parameter")
    delimiter = b"--" + boundary.encode("latin-1")
    start = body.find(delimiter)  # anything before it is a preamble
    if start < 0:
        raise InvalidInputError(f"multipart body has no '--{boundary}' delimiter")
    position = start + len(delimiter)
    spans = []
    while body[position : position + 2] != b"--":  # the close delimiter: what follows is an epilogue
        following = body.find(b"\r\n" + delimiter, position)
        if following < 0:
            raise InvalidInputError(f"multipart body is not closed by '--{boundary}--'")
        blank = body.find(b"\r\n\r\n", position, following)
        if blank < 0:
            raise InvalidInputError("a multipart part has no blank line between its headers and its body")
        part_type = root_type
        for line in bytes(body[position:blank]).split(b"\r\n"):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-type":
                part_type = media_params(value)[0]
        spans.append((part_type, blank + 4, following))
        position = following + 2 + len(delimiter)
    if not spans:
        raise InvalidInputError("multipart body has no parts")
    return spans


def parse_related(body: bytes, content_type: str) -> list[Part]:
    return [Part(t, body[a:b]) for t, a, b in related_spans(body, content_type)]


def iter_related(body: Buffer, content_type: str) -> Iterator[Part]:
    """The parts of a (spooled, mapped) body, each copied out only when it is its turn to be stored."""
    return (Part(t, bytes(body[a:b])) for t, a, b in related_spans(body, content_type))


def stream_related(files: list[tuple[str, str]], boundary: str, chunk: int = 1 << 20) -> Iterator[bytes]:
    """A ``multipart/related`` body from stored files, read a chunk at a time: (part content type, path)."""
    for part_type, path in files:
        yield f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode("ascii")
        with open(path, "rb") as handle:
            while block := handle.read(chunk):
                yield block
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode("ascii")
