"""The review page's prior-studies panel: an earlier study of the same patient is listed with its date and
first image, and asking the PACS without one configured says so.

The two studies are a patient of their own (DX, 2003), so that the worklist filters and searches of the
other browser tests (CT / CR, 2004, patient ids 1CT1 / 9RG1) match what they did before.
"""

from __future__ import annotations

import io
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from tests.ui.live import LiveService, login

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _study(patient_id: str, date: str) -> tuple[str, bytes]:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientID, ds.StudyDate, ds.Modality, ds.AccessionNumber = patient_id, date, "DX", f"UIPRIOR{date}"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return str(ds.StudyInstanceUID), buffer.getvalue()


def test_prior_is_listed_beside_the_current_study(live_service: LiveService, page: Any) -> None:
    uids = {}
    for date in ("20030101", "20031001"):
        uid, data = _study("UIPRIOR", date)
        files = [("files", (f"{date}.dcm", data, "application/dicom"))]
        up = live_service.api("POST", "studies", files=files)
        assert up.status_code == 202, up.text
        uids[date] = uid
    login(page, live_service.base_url)
    page.goto(f"{live_service.base_url}/review/{uids['20031001']}")
    item = page.locator(f'#priors-list li.prior[data-study-uid="{uids["20030101"]}"]')
    item.wait_for(timeout=30_000)
    assert page.locator("#priors-list li.prior").count() == 1  # the later study is not its own prior
    assert item.locator(".prior-date").inner_text() == "2003-01-01"
    assert "UIPRIOR20030101" in item.inner_text()
    item.locator(".prior-thumb img").wait_for(timeout=30_000)  # the prior's first image, rendered
    assert item.locator("a", has_text="Open").get_attribute("href") == f"/review/{uids['20030101']}"
    assert page.locator("#priors-status").inner_text() == "1 prior study"

    page.click("#priors-fetch")  # this service has no PACS configured
    page.wait_for_function("document.querySelector('#priors-status').textContent.includes('No PACS')")
