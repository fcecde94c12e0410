"""A few hundred malformed DICOM files over all three inbound channels (issue #19): HTTP upload, STOW-RS
and C-STORE. No 5xx, no crash (no handler error at the listener, which still answers afterwards), no row
without its file, no file without its row, no partial file, and the process's peak memory growth
measured and bounded."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import psutil
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pynetdicom import AE, _config
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from sqlmodel import Session, select

from medvlm.db.models import Instance
from medvlm.dicom.store import StudyStore
from medvlm.service.dicom_listener.listener import start_dicom_listener
from tests.service.helpers import related
from tests.support.fuzz_dicom import DX, fuzz_corpus

API = "/api/v1"
N_FILES = 300
MAX_PEAK_GROWTH_MB = 400
TRANSFER_SYNTAXES = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.5"]

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


class PeakRss:
    """Samples this process's resident memory every 10 ms (the service runs in-process) and keeps the
    highest value: the peak growth over the starting RSS is what the run cost."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.start = self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def _cstore(port: int, files: list[Path]) -> tuple[int, list[str]]:
    """Send each file's bytes as they are; returns how many were sent and the Error Comments."""
    ae = AE(ae_title="FUZZER")
    for syntax in TRANSFER_SYNTAXES:
        ae.add_requested_context(DX, syntax)
    ae.add_requested_context(Verification)
    sent, comments = 0, []
    assoc = ae.associate("127.0.0.1", port, ae_title="MEDVLM")
    chunked, _config.STORE_SEND_CHUNKED_DATASET = _config.STORE_SEND_CHUNKED_DATASET, True
    try:
        for path in files:
            if not assoc.is_established:
                assoc = ae.associate("127.0.0.1", port, ae_title="MEDVLM")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    status = assoc.send_c_store(path)
            except Exception:  # the client cannot even frame it (no readable file meta, no context)
                continue
            sent += 1
            if status is not None and "ErrorComment" in status:
                comments.append(str(status.ErrorComment))
        echo = assoc.send_c_echo() if assoc.is_established else None
        if echo is None:
            assoc = ae.associate("127.0.0.1", port, ae_title="MEDVLM")
            echo = assoc.send_c_echo()
        assert echo.Status == 0x0000  # the listener still serves
        assoc.release()
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = chunked
    return sent, comments


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_malformed_files_over_every_channel(client: TestClient, app: FastAPI, callers, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    corpus = fuzz_corpus(N_FILES, seed=19)
    memory = PeakRss().__enter__()
    statuses: list[tuple[str, str, int]] = []
    uploads, stows, cstores = corpus[0::3], corpus[1::3], corpus[2::3]
    for name, data in uploads:
        response = client.post(f"{API}/studies", files=[("files", (f"{name}.dcm", data))],
                               headers=callers.integration)
        statuses.append(("upload", name, response.status_code))
        assert response.headers["content-type"].startswith("application/json"), name
    for start in range(0, len(stows), 10):
        parts = stows[start:start + 10]
        body, headers = related(*[("application/dicom", data) for _, data in parts])
        response = client.post(f"{API}/dicomweb/studies", content=body,
                               headers={**headers, **callers.integration})
        statuses.append(("stow", ",".join(n for n, _ in parts), response.status_code))
    files = []
    for name, data in cstores:
        path = tmp_path / f"{name}.dcm"
        path.write_bytes(data)
        files.append(path)
    with start_dicom_listener(app.state.settings, port=0) as listener:
        sent, comments = _cstore(listener.port, files)
    memory.__exit__()
    growth = memory.growth_mb

    server_errors = [s for s in statuses if s[2] >= 500]
    assert server_errors == []
    assert not [c for c in comments if c.startswith("internal error")]
    assert sent >= len(cstores) // 2  # most of the C-STORE third reached the listener
    store = StudyStore.from_settings(app.state.settings)
    with Session(app.state.engine) as session:
        rows = list(session.exec(select(Instance)).all())
    assert all(store.verify(row.sha256) and Path(row.path) == store.path(row.sha256) for row in rows)
    assert {p.stem for p in store.files()} == {row.sha256 for row in rows}  # no file without its row
    assert not list(store.root.glob("*/*/.tmp-*.part")) if store.root.exists() else True
    assert rows, "the valid files in the corpus must be stored"
    with capsys.disabled():
        print(f"\nfuzz intake: {N_FILES} files ({len(uploads)} upload, {len(stows)} STOW in "
              f"{len(range(0, len(stows), 10))} requests, {sent}/{len(cstores)} C-STORE sent), "
              f"{len(rows)} stored, 0 5xx, peak RSS growth {growth:.1f} MB")
    assert growth < MAX_PEAK_GROWTH_MB
