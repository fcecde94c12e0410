"""Peak memory of memory-hostile input (issue 19 item 4), the old way beside the new, in one process.

    .venv/bin/python benchmarks/ingest_memory.py [--mib 24]

Peaks are Python allocations traced by ``tracemalloc`` (not RSS), for:
- a 380 KB file with sequences nested 600 deep: parsed and walked (the old ingest accepted it; the old
  de-identification walked it for minutes) vs parsed with the depth limit (refused);
- STOW-RS: the body read whole and split into parts (the old route) vs fed chunk by chunk to
  python-multipart's streaming parser, each part spooled to a file and read back one at a time
  (``service.dicomweb.multipart.RelatedReader``);
- upload: a zip ingested from bytes (the old route read every file whole) vs from its spooled copy
  (``medvlm.dicom.ingest.ingest_file``), each into a fresh SQLite store;
- C-STORE of an instance over ``max_file_bytes``: pynetdicom buffering the data set in memory (the old
  listener's receive; its handler also parsed the whole data set, not measured here) vs spooling it to a
  file (``STORE_RECV_CHUNKED_DATASET``), so the size is checked first.
Prints MiB and the ratio to the input size. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def peak(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def films(count: int) -> list[bytes]:
    import numpy as np

    from tests.medvlm.dicom.dicom_factory import make_image, to_bytes

    rng = np.random.default_rng(0)
    return [to_bytes(make_image(pixels=rng.integers(0, 4096, size=(512, 1024), dtype=np.uint16),
                                study_uid="1.2.826.0.1.3680043.19.9")) for _ in range(count)]


def line(what: str, size: int, old: int, new: int) -> None:
    print(f"{what:<34} input {size / 2**20:7.2f} MiB   old {old / 2**20:7.1f} MiB ({old / size:5.2f}x)   "
          f"new {new / 2**20:7.1f} MiB ({new / size:5.2f}x)")


def deep_file() -> None:
    import pydicom

    from medvlm.compliance.nesting import sequence_depth
    from medvlm.dicom.parse import parse_dataset
    from tests.medvlm.dicom.deep_factory import deep_image

    data = deep_image(600, text_bytes=600)

    def old() -> None:  # what the old ingest did first: parse, then walk every element
        sys.setrecursionlimit(20_000)
        ds = pydicom.dcmread(io.BytesIO(data))
        sequence_depth(ds, stop_after=10_000)

    def new() -> None:
        with contextlib.suppress(Exception):  # refused: the point
            parse_dataset(data)

    line("600-deep file, parse + walk", len(data), peak(old), peak(new))


def stow(parts: list[bytes]) -> None:
    from medvlm.service.dicomweb.multipart import RelatedReader
    from tests.service.helpers import related

    body, headers = related(*[("application/dicom", p) for p in parts])
    kind = headers["Content-Type"]
    delimiter = b"\r\n--" + kind.rpartition("boundary=")[2].encode()

    def old() -> None:
        received = b"".join(body[i:i + 65536] for i in range(0, len(body), 65536))  # Request.body()
        for chunk in received.split(delimiter)[1:-1]:  # the old parser: every part sliced out at once
            bytes(chunk.partition(b"\r\n\r\n")[2])

    def new() -> None:
        with RelatedReader(kind) as reader:
            for i in range(0, len(body), 65536):
                reader.feed(body[i:i + 65536])
            for part in reader.close():
                len(part.read())

    line("STOW-RS body, parts out", len(body), peak(old), peak(new))


def upload(parts: list[bytes], workdir: Path) -> None:
    from medvlm.db import migrate
    from medvlm.dicom.ingest import ingest_bytes, ingest_file
    from medvlm.settings import Settings

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as members:
        for i, data in enumerate(parts):
            members.writestr(f"{i}.dcm", data)
    spooled = workdir / "upload.zip"
    spooled.write_bytes(archive.getvalue())

    def fresh(name: str) -> Settings:
        settings = Settings(data_dir=workdir / name, database_url=f"sqlite:///{workdir / name}.db")
        settings.data_dir.mkdir(parents=True)
        migrate(settings.resolved_database_url)
        return settings

    one, two = fresh("old"), fresh("new")
    old = peak(lambda: ingest_bytes("upload.zip", spooled.read_bytes(), settings=one))
    new = peak(lambda: ingest_file("upload.zip", spooled, settings=two))
    line("upload zip, ingested", spooled.stat().st_size, old, new)


def cstore(data: bytes, workdir: Path) -> None:
    from pynetdicom import _config

    from medvlm.service.dicom_listener.listener import start_dicom_listener
    from medvlm.settings import Settings
    from tests.service.dicom_listener.test_listener import raw_store

    path = workdir / "big.dcm"
    path.write_bytes(data)
    settings = Settings(data_dir=workdir / "scp", max_file_bytes=1024 * 1024)
    results = []
    for chunked in (False, True):
        with start_dicom_listener(settings, port=0, queue_drafts=False) as handle:
            _config.STORE_RECV_CHUNKED_DATASET = chunked  # False: the old in-memory receive
            results.append(peak(lambda port=handle.port: raw_store(port, path)))
    line("C-STORE over the limit, receive", len(data), *results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=24, help="size of the STOW body / upload in MiB")
    args = parser.parse_args()
    parts = films(args.mib)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        deep_file()
        stow(parts)
        upload(parts, workdir)
        cstore(films_one(8), workdir)


def films_one(mib: int) -> bytes:
    import numpy as np

    from tests.medvlm.dicom.dicom_factory import make_image, to_bytes

    pixels = np.random.default_rng(1).integers(0, 4096, size=(mib * 512, 1024), dtype=np.uint16)
    return to_bytes(make_image(pixels=pixels))


if __name__ == "__main__":
    main()
