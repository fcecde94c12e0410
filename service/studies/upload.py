"""Multipart upload with a hard cap: refused by Content-Length up front, and counted while streaming.

Starlette spools multipart files to temporary files; each is copied to a private temporary file that
ingestion reads from disk (a zip member by member), so an upload is never held in memory whole (issue 19:
it was, once per file, on top of the parser's buffers). The counting ``receive`` stops a body without
(or with a lying) Content-Length as soon as it passes ``max_upload_bytes``.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from medvlm.service.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaError
from medvlm.service.studies.spool import full_disk_is_507

MAX_PARTS = 1000


@dataclass(frozen=True)
class UploadedFile:
    name: str
    path: Path  # a private temporary copy; ``discard`` removes it

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def _spool(source: IO[bytes]) -> Path:
    with tempfile.NamedTemporaryFile(prefix="medvlm-upload-", delete=False) as target:
        try:
            with full_disk_is_507("the upload's temporary copy"):
                source.seek(0)
                shutil.copyfileobj(source, target, 1 << 20)
        except BaseException:
            Path(target.name).unlink(missing_ok=True)
            raise
    return Path(target.name)


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"upload larger than the limit of {limit} bytes (MEDVLM_MAX_UPLOAD_BYTES)")


def capped_request(request: Request, max_upload_bytes: int) -> Request:
    """``request`` whose body is refused past ``max_upload_bytes``: by Content-Length, then by counting."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidInputError(f"invalid Content-Length header {declared!r}")
        if int(declared) > max_upload_bytes:
            raise _too_large(max_upload_bytes)

    received = 0
    upstream = request.receive

    async def capped_receive():  # type: ignore[no-untyped-def]
        nonlocal received
        message = await upstream()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_upload_bytes:
                raise _too_large(max_upload_bytes)
        return message

    return Request(request.scope, capped_receive)


async def read_upload(request: Request, *, max_upload_bytes: int, max_file_bytes: int) -> list[UploadedFile]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise UnsupportedMediaError(
            f"expected multipart/form-data with one or more 'files' parts, "
            f"got '{content_type or 'no content type'}'"
        )
    capped = capped_request(request, max_upload_bytes)
    try:
        form = await capped.form(max_files=MAX_PARTS, max_fields=MAX_PARTS)
    except PayloadTooLargeError:
        raise
    except Exception as exc:  # malformed multipart bodies come in several exception types
        raise InvalidInputError(f"unreadable multipart body: {exc}") from None
    try:
        parts = [p for p in form.getlist("files") if isinstance(p, UploadFile)]
        if not parts:
            raise InvalidInputError("no files: send DICOM files or a zip as multipart parts named 'files'")
        files: list[UploadedFile] = []
        try:
            for part in parts:
                if part.size is not None and part.size > max_file_bytes:
                    raise PayloadTooLargeError(
                        f"file {part.filename!r} is {part.size} bytes, over the "
                        f"per-file limit of {max_file_bytes} (MEDVLM_MAX_FILE_BYTES)"
                    )
                path = await run_in_threadpool(_spool, part.file)
                files.append(UploadedFile(name=part.filename or "upload", path=path))
        except BaseException:
            for made in files:
                made.discard()
            raise
        return files
    finally:
        await form.close()
