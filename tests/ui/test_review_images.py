"""A study of several images (a PA and a lateral film): the review page shows each, one click apart.

Runs after the other browser tests (file order): the study it uploads is never drafted (the fixture's
worker has stopped), and it would otherwise be one more CR row in their worklist filters.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.service.helpers import dicom_bytes
from tests.ui.live import LiveService, login

pytestmark = [pytest.mark.browser, pytest.mark.integration]

STUDY = "1.2.826.0.1.3680043.10.77.1"


def test_every_image_of_a_study_can_be_viewed(live_service: LiveService, page: Any) -> None:
    films = [
        (
            "files",
            (
                f"view{i}.dcm",
                dicom_bytes(study_uid=STUDY, modality="CR", patient_id="PVIEWS"),
                "application/dicom",
            ),
        )
        for i in range(2)
    ]
    assert live_service.api("POST", "studies", files=films).status_code == 202
    detail = live_service.api("GET", f"studies/{STUDY}").json()
    sops = {i["sop_instance_uid"] for s in detail["series"] for i in s["instances"]}
    assert len(sops) == 2

    login(page, live_service.base_url)
    page.goto(f"{live_service.base_url}/review/{STUDY}")
    thumbs = page.locator("#image-strip .thumb")
    thumbs.nth(1).wait_for()
    assert thumbs.count() == 2 and page.locator("#image-strip").is_visible()
    page.wait_for_function("window.__medvlm.viewer.stats.firstImageMs !== null")
    shown = page.evaluate("window.__medvlm.viewer.sop")
    assert shown in sops and thumbs.nth(0).get_attribute("aria-current") == "true"
    # The thumbnails are the films themselves, fetched with the session's token.
    page.wait_for_function(
        "[...document.querySelectorAll('#image-strip img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)"
    )

    thumbs.nth(1).click()
    page.wait_for_function(f"window.__medvlm.viewer.sop !== {shown!r}")
    page.wait_for_function("window.__medvlm.viewer.stats.firstImageMs !== null")
    assert page.evaluate("window.__medvlm.viewer.sop") == (sops - {shown}).pop()
    assert (
        thumbs.nth(1).get_attribute("aria-current") == "true"
        and thumbs.nth(0).get_attribute("aria-current") is None
    )
    assert page.locator("#viewer-message").is_hidden()  # the second image cleared "Loading image..."


def test_a_single_image_study_has_no_strip(live_service: LiveService, page: Any) -> None:
    login(page, live_service.base_url)
    page.goto(f"{live_service.base_url}/review/{live_service.second_study_uid}")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert page.locator("#image-strip").is_hidden()
