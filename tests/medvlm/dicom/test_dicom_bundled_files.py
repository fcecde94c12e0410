"""Every DICOM file bundled with pydicom and the pydicom-data wheel: ingested or rejected, never a crash."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from medvlm.db import get_engine
from medvlm.db.models import Instance
from medvlm.dicom.ingest import ingest_paths
from medvlm.dicom.parse import is_dicomdir, parse_dataset
from medvlm.dicom.store import StudyStore
from medvlm.errors import DicomError
from medvlm.settings import Settings
from tests.medvlm.dicom.dicom_factory import bundled_files

# What the issue asks us to decode, by transfer syntax UID.
REQUIRED_SYNTAXES = {
    "1.2.840.10008.1.2": "implicit VR little endian",
    "1.2.840.10008.1.2.1": "explicit VR little endian",
    "1.2.840.10008.1.2.2": "explicit VR big endian",
    "1.2.840.10008.1.2.1.99": "deflated",
    "1.2.840.10008.1.2.5": "RLE",
    "1.2.840.10008.1.2.4.50": "JPEG baseline",
    "1.2.840.10008.1.2.4.70": "JPEG lossless",
    "1.2.840.10008.1.2.4.80": "JPEG-LS lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 lossless",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
}


def _is_dicomdir(data: bytes) -> bool:
    try:
        return is_dicomdir(parse_dataset(data))
    except DicomError:
        return False


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_every_bundled_file_is_ingested_or_rejected_with_a_reason(sqlite_settings: Settings) -> None:
    files = bundled_files()
    assert len(files) > 200 and any(p.name == "RG1_UNCI.dcm" for p in files)
    outcomes: dict[str, int] = {"ingested": 0, "duplicate": 0, "conflict": 0, "rejected": 0, "dicomdir": 0}
    syntaxes: set[str] = set()
    for path in files:
        report = ingest_paths([path], settings=sqlite_settings)  # an exception here fails the test
        kinds = report.ingested + report.duplicates + report.conflicts + len(report.rejected)
        if _is_dicomdir(path.read_bytes()):
            outcomes["dicomdir"] += 1  # its referenced files are looked at (again); it is no instance itself
            continue
        assert kinds == 1, (path, report)
        for rejection in report.rejected:
            assert rejection.path == str(path) and len(rejection.reason) > 10
        if not report.rejected:  # ingested, duplicate or conflict: parsed, validated and decoded
            syntaxes.add(str(parse_dataset(path.read_bytes()).file_meta.TransferSyntaxUID))
        outcomes["ingested"] += report.ingested
        outcomes["duplicate"] += report.duplicates
        outcomes["conflict"] += report.conflicts
        outcomes["rejected"] += len(report.rejected)
    assert outcomes["ingested"] >= 90 and outcomes["dicomdir"] >= 7, outcomes
    with Session(get_engine(sqlite_settings.resolved_database_url)) as session:
        instances = list(session.exec(select(Instance)).all())
    missing = {uid: name for uid, name in REQUIRED_SYNTAXES.items() if uid not in syntaxes}
    assert not missing, f"no file accepted in {missing}"
    store = StudyStore.from_settings(sqlite_settings)
    assert all(store.contains(i.sha256) for i in instances)
    chest = [i for i in instances if i.rows == 1955 and i.columns == 1841]
    assert {i.photometric for i in chest} == {"MONOCHROME1"} and len(chest) == 3  # UNCI/J2KI share a UID
