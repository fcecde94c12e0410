"""``medvlm data import --pacs`` against a real PACS: Orthanc (loopback-only namespace) holds a made-up
hospital's films; the import finds them by date range and modality (C-FIND), retrieves them (C-GET) and
imports them like the folder they came from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medvlm.dataset.importer import import_dataset
from medvlm.dataset.importer.pacs import PacsSource
from tests.medvlm.dataset.importer.archive import KEY, write_archive
from tests.support.orthanc import OrthancServer, inside, running_orthanc
from tests.support.services import missing_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OrthancServer, Path]]:
    archive = tmp_path_factory.mktemp("archive")
    write_archive(archive)
    with running_orthanc(
        tmp_path_factory.mktemp("orthanc"), {"medvlm": ("MEDVLM", "127.0.0.1", 11112)}
    ) as server:
        if server is None:
            missing_service("Orthanc (Debian orthanc) in a loopback-only network namespace (ip netns)")
        with inside(server):
            for path in sorted((archive / "dicom").rglob("*.dcm")):
                server.rest("POST", "/instances", path.read_bytes())
        yield server, archive


def test_pacs_import_matches_the_folder_import(orthanc: tuple[OrthancServer, Path], tmp_path: Path) -> None:
    server, archive = orthanc
    source = PacsSource("127.0.0.1", server.dicom_port, server.ae_title, "20210301", "20210331")
    with inside(server):
        summary = import_dataset(tmp_path / "pacs", [], [archive / "reports"], KEY, progress=False,
                                 pacs=source)
    folder = import_dataset(tmp_path / "folder", [archive / "dicom"], [archive / "reports"], KEY,
                            progress=False)
    # Orthanc also serves the SR documents (C-GET takes SR classes), so the SR reports pair too; their
    # studies answer C-FIND with ModalitiesInStudy DX\\SR (a multi-valued answer)
    assert summary.imported == folder.imported == 9, summary.lines()
    pacs_manifest = (tmp_path / "pacs" / "manifest.jsonl").read_text()
    assert pacs_manifest == (tmp_path / "folder" / "manifest.jsonl").read_text()
