"""STOW-RS and upload memory (issue 19 item 4): the STOW body is spooled to a temporary file and its parts
are stored one at a time; an upload is ingested from its spooled copy, a zip member by member. Peaks
measured with tracemalloc (the test client shares the process)."""

from __future__ import annotations

import io
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from medvlm.service.dicomweb.multipart import parse_related
from tests.medvlm.dicom.deep_factory import deep_image
from tests.medvlm.dicom.dicom_factory import make_image, to_bytes
from tests.service.helpers import related

WEB = "/api/v1/dicomweb"


def test_stow_peak_memory_is_about_one_body(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    films = [to_bytes(make_image(pixels=rng.integers(0, 4096, size=(512, 1024), dtype=np.uint16),
                                 study_uid="1.2.826.0.1.3680043.19.4", patient_id="PMEM")) for _ in range(24)]
    body, headers = related(*[("application/dicom", f) for f in films])
    del films
    tracemalloc.start()
    try:
        answer = client.post(f"{WEB}/studies", content=body, headers={**headers, **callers.integration})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert answer.status_code == 200, answer.text
    print(f"STOW of {len(body) / 2**20:.1f} MiB: peak {peak / 2**20:.1f} MiB ({peak / len(body):.2f}x)")
    # Before: the body read whole, split, and each part copied again: ~4x the body above the client's.
    assert peak < 1.0 * len(body), f"peak {peak / 2**20:.1f} MiB for a {len(body) / 2**20:.1f} MiB body"


BAD_BODIES = [
    ("no delimiter", b"just bytes", "no '--b0undary' delimiter"),
    ("not closed", b"--b0undary\r\nContent-Type: application/dicom\r\n\r\nDATA", "not closed"),
    ("no blank line", b"--b0undary\r\nContent-Type: application/dicom\r\n--b0undary--", "no blank line"),
    ("no parts", b"--b0undary--\r\n", "no parts"),
]


@pytest.mark.parametrize(("case", "body", "message"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_malformed_stow_bodies_are_422(client: TestClient, callers, case: str, body: bytes,  # type: ignore[no-untyped-def]
                                       message: str) -> None:
    headers = {"Content-Type": 'multipart/related; type="application/dicom"; boundary=b0undary'}
    answer = client.post(f"{WEB}/studies", content=body, headers={**headers, **callers.integration})
    assert answer.status_code == 422 and message in answer.text, answer.text


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 16])
def test_parts_keep_their_bytes_whatever_the_chunking(chunk: int) -> None:
    """Preamble and epilogue ignored, CRLF and boundary look-alikes inside a part kept, in any chunking."""
    body, headers = related(("application/dicom", b"A" * 10), ("text/plain", b"B\r\nC\r\n--b0und"))
    body = b"preamble --b0und\r\n" + body + b"epilogue"
    parts = parse_related(body, headers["Content-Type"], chunk=chunk)
    assert parts == [("application/dicom", b"A" * 10), ("text/plain", b"B\r\nC\r\n--b0und")]


def test_deeply_nested_file_is_refused_over_stow_and_upload(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    deep = deep_image(600, text_bytes=600)
    body, headers = related(("application/dicom", deep))
    answer = client.post(f"{WEB}/studies", content=body, headers={**headers, **callers.integration})
    assert answer.status_code == 409 and "nested more than 32" in answer.text
    upload = client.post("/api/v1/studies", files=[("files", ("deep.dcm", deep, "application/dicom"))],
                         headers=callers.radiologist)
    assert upload.status_code == 422 and "nested more than 32" in upload.text, upload.text


def _zip_of_films(count: int) -> bytes:
    rng = np.random.default_rng(5)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as members:
        for i in range(count):
            pixels = rng.integers(0, 4096, size=(512, 1024), dtype=np.uint16)
            film = make_image(pixels=pixels, study_uid="1.2.826.0.1.3680043.19.5")
            members.writestr(f"{i}.dcm", to_bytes(film))
    return archive.getvalue()


def test_upload_is_ingested_from_disk_member_by_member(app, app_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The ingestion of an uploaded zip reads it from its spooled copy, a member at a time: it used to take
    the upload as bytes (1x, on top of the multipart parser's buffers)."""
    from medvlm.dicom.ingest import ingest_bytes
    from medvlm.service.intake.intake import Actor
    from medvlm.service.studies.ingest import _ingest_all
    from medvlm.service.studies.upload import UploadedFile

    data = _zip_of_films(24)
    spooled = tmp_path / "upload"
    spooled.write_bytes(data)
    del data
    size = spooled.stat().st_size

    def peak_of(run) -> int:  # type: ignore[no-untyped-def]
        tracemalloc.start()
        try:
            run()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # The old way: the upload read into memory, then ingested from bytes (ingests the 24 films).
    before = peak_of(lambda: ingest_bytes("s.zip", spooled.read_bytes(), settings=app_settings))
    outcome: list = []
    actor = Actor("user:test", "upload")
    files = [UploadedFile("s.zip", spooled)]
    after = peak_of(lambda: outcome.append(_ingest_all(app_settings, actor, files)))
    result = outcome[0][0]
    assert result.duplicates == 24 and result.rejected == []  # the same films again: duplicates
    print(f"ingest of a {size / 2**20:.1f} MiB upload: peak {after / 2**20:.1f} MiB "
          f"(from bytes: {before / 2**20:.1f} MiB)")
    # What is left is the ingest batch (up to 64 files / 256 MB are committed together).
    assert after < before - 0.8 * size, f"{after / 2**20:.1f} MiB vs {before / 2**20:.1f} MiB"


def test_upload_spools_and_cleans_up(client: TestClient, callers) -> None:  # type: ignore[no-untyped-def]
    data = _zip_of_films(3)
    answer = client.post("/api/v1/studies", files=[("files", ("s.zip", data, "application/zip"))],
                         headers=callers.radiologist)
    assert answer.status_code == 202 and answer.json()["ingested"] == 3, answer.text
    assert not list(Path(tempfile.gettempdir()).glob("medvlm-upload-*"))  # the spooled copies are gone


def test_a_full_disk_while_spooling_is_507(client: TestClient, callers,  # type: ignore[no-untyped-def]
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The temporary copies can meet a full disk too: 507 like the store, and no copy left behind."""
    import errno

    from medvlm.service.studies import spool, upload

    def full(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(upload.shutil, "copyfileobj", full)
    answer = client.post("/api/v1/studies", files=[("files", ("a.dcm", _zip_of_films(1)))],
                         headers=callers.radiologist)
    assert answer.status_code == 507 and answer.json()["error"] == "StorageFullError", answer.text
    assert not list(Path(tempfile.gettempdir()).glob("medvlm-upload-*"))

    class FullFile:
        def __init__(self, *_args, **_kwargs) -> None:  # type: ignore[no-untyped-def]
            pass

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *_exc: object) -> None:
            pass

        def write(self, _data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool.tempfile, "TemporaryFile", FullFile)
    body, headers = related(("application/dicom", _zip_of_films(1)))
    stow = client.post(f"{WEB}/studies", content=body, headers={**headers, **callers.integration})
    assert stow.status_code == 507 and stow.json()["error"] == "StorageFullError", stow.text
