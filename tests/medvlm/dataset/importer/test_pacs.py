"""Import from a PACS: C-FIND by date range and modality, C-GET each study, then the usual import; a real
pynetdicom Query/Retrieve SCP on 127.0.0.1 holds the archive's films."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
)

from medvlm.dataset.importer import import_dataset
from medvlm.dataset.importer.pacs import PacsSource
from medvlm.errors import DicomError
from medvlm.pacs.query import find_studies_between
from tests.medvlm.dataset.importer.archive import KEY, write_archive


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    root = tmp_path_factory.mktemp("pacs")
    write_archive(root)
    films = [pydicom.dcmread(p) for p in sorted((root / "dicom").rglob("*.dcm"))]
    films = [ds for ds in films if ds.Modality != "SR"]

    def on_find(event: evt.Event) -> Iterator[tuple[int, Dataset | None]]:
        query = event.identifier
        low, high = str(query.StudyDate).split("-")
        seen = set()
        for ds in films:
            if low <= ds.StudyDate <= high and ds.StudyInstanceUID not in seen:
                seen.add(ds.StudyInstanceUID)
                match = Dataset()
                match.QueryRetrieveLevel = "STUDY"
                match.StudyInstanceUID, match.StudyDate = ds.StudyInstanceUID, ds.StudyDate
                match.AccessionNumber, match.StudyDescription = ds.AccessionNumber, ""
                match.ModalitiesInStudy = ds.Modality
                yield 0xFF00, match

    def on_get(event: evt.Event) -> Iterator[object]:
        wanted = [ds for ds in films if ds.StudyInstanceUID == event.identifier.StudyInstanceUID]
        yield len(wanted)
        for ds in wanted:
            yield 0xFF00, ds

    ae = AE(ae_title="TESTPACS")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    for context in StoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, scu_role=False, scp_role=True)
    server = ae.start_server(("127.0.0.1", 0), block=False,
                             evt_handlers=[(evt.EVT_C_FIND, on_find), (evt.EVT_C_GET, on_get)])
    try:
        yield server.server_address[1], root
    finally:
        server.shutdown()


def test_find_by_date_range_and_modality(pacs: tuple[int, Path]) -> None:
    port, _ = pacs
    found = find_studies_between("127.0.0.1", port, date_from="20210301", date_to="20210305", modality="DX",
                                 called_ae="TESTPACS")
    assert [m.study_date for m in found] == ["20210305", "20210304", "20210303", "20210302", "20210301"]
    with pytest.raises(DicomError, match="YYYYMMDD"):
        find_studies_between("127.0.0.1", port, date_from="2021-03-01", date_to="20210305", modality="DX",
                             called_ae="TESTPACS")


def test_import_from_the_pacs_matches_the_folder_import(pacs: tuple[int, Path], tmp_path: Path) -> None:
    port, root = pacs
    source = PacsSource("127.0.0.1", port, "TESTPACS", "20210301", "20210331")
    summary = import_dataset(tmp_path / "data", [], [root / "reports"], KEY, progress=False, pacs=source)
    # the SR reports live in the folder archive, not in this PACS: studies 6 and 7 stay unpaired here
    assert summary.imported == 7
    assert not (tmp_path / ".data.pacs").exists()  # the retrieved copies go once the import is complete
    folder = import_dataset(tmp_path / "folder", [root / "dicom"], [root / "reports"], KEY, progress=False)
    by_folder = {line for line in (tmp_path / "folder" / "manifest.jsonl").read_text().splitlines()}
    by_pacs = (tmp_path / "data" / "manifest.jsonl").read_text().splitlines()
    assert folder.imported == 9 and set(by_pacs) <= by_folder
