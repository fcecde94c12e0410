"""A real listener on 127.0.0.1 (a free port) over a fresh database, and real DICOM files to send it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from medvlm.service.dicom_listener.listener import ListenerHandle, start_dicom_listener
from medvlm.settings import Settings


def _testdata(name: str) -> Path:
    found = get_testdata_file(name, download=False)
    if found is None:  # pydicom and pydicom-data are dependencies: a missing file is a broken environment
        raise FileNotFoundError(f"pydicom test file {name} is not installed")
    return Path(str(found))


@pytest.fixture
def testdata() -> Callable[[str], Path]:
    """A file bundled with pydicom, by name (never downloaded)."""
    return _testdata


@pytest.fixture
def listener(sqlite_settings: Settings) -> Iterator[ListenerHandle]:
    with start_dicom_listener(sqlite_settings, port=0) as handle:
        yield handle
