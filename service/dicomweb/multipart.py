"""``multipart/related`` bodies (RFC 2387), as DICOMweb sends and expects instances.

Parsing (requests-toolbelt's decoder) keeps each part's bytes exactly (no charset decoding, no line-ending
changes): a DICOM file is binary. Only the parts' ``Content-Type`` is read from their headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from medvlm.service.errors import InvalidInputError, UnsupportedMediaError

DICOM = "application/dicom"


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


def parse_related(body: bytes, content_type: str) -> list[Part]:
    """The parts of a STOW-RS body, split by requests-toolbelt's ``MultipartDecoder``.

    Checked here, since the decoder does not: the media type and its ``type`` parameter, the boundary,
    and that the body is closed by ``--boundary--``. Text before the first delimiter (a preamble, or the
    CRLF some clients put there) is dropped, as RFC 2046 says.
    """
    from requests_toolbelt.multipart.decoder import (
        ImproperBodyPartContentException,
        MultipartDecoder,
        NonMultipartContentTypeException,
    )

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
    start = body.find(delimiter)
    if start < 0:
        raise InvalidInputError(f"multipart body has no '--{boundary}' delimiter")
    if delimiter + b"--" not in body[start:]:
        raise InvalidInputError(f"multipart body is not closed by '--{boundary}--'")
    try:
        decoded = MultipartDecoder(body[start:], content_type.replace("Multipart", "multipart"))
    except (ImproperBodyPartContentException, NonMultipartContentTypeException) as exc:
        raise InvalidInputError(f"malformed multipart body: {exc}") from None
    parts = []
    for part in decoded.parts:
        header = part.headers.get(b"Content-Type") or part.headers.get(b"content-type")
        part_type = media_params(header.decode("latin-1"))[0] if header else root_type
        parts.append(Part(part_type, part.content))
    if not parts:
        raise InvalidInputError("multipart body has no parts")
    return parts


def stream_related(files: list[tuple[str, str]], boundary: str, chunk: int = 1 << 20) -> Iterator[bytes]:
    """A ``multipart/related`` body from stored files, read a chunk at a time: (part content type, path)."""
    for part_type, path in files:
        yield f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode("ascii")
        with open(path, "rb") as handle:
            while block := handle.read(chunk):
                yield block
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode("ascii")
