"""The radiologist's whole path in a real browser against the real service (issue #6).

log in -> worklist -> open the study -> window/level drag changes the canvas -> toggle a finding ->
regenerate -> edit the impression -> reload and find the edit kept -> sign -> download the PDF and find
the edit in it -> the database holds the ORIGINAL / FINAL pair. Timings are printed, not asserted.
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.ui.live import LiveService, film_path, login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

EDITED_IMPRESSION = "Radiologist edit UITEST-4242: no acute cardiopulmonary abnormality."
VIEWER_STATS = "JSON.stringify({...window.__medvlm.viewer.stats, origin: performance.timeOrigin})"
# Drive the render path once per animation frame for 2 s, as a drag at display rate would
# (interactive: reduced resolution while moving), then the same with full-resolution frames.
RENDER_LOOP = """(interactive) => new Promise((resolve) => {
  const v = window.__medvlm.viewer;
  const r0 = v.stats.renders, m0 = v.stats.renderMs, t0 = performance.now();
  let i = 0;
  function step() {
    v.setWindow(v.window.center + (i % 2 ? 40 : -40), v.window.width + (i % 2 ? 25 : -25), {interactive});
    i++;
    if (performance.now() - t0 < 2000) requestAnimationFrame(step);
    else resolve({frames: v.stats.renders - r0, seconds: (performance.now() - t0) / 1000,
                  mean_ms: (v.stats.renderMs - m0) / Math.max(1, v.stats.renders - r0)});
  }
  requestAnimationFrame(step);
})"""


def _wait_saved(page: Any) -> None:
    page.wait_for_selector("#save-state[data-state=saved]", timeout=30_000)


def _drag_window_level(page: Any) -> tuple[int, int, float]:
    """A real mouse drag on the canvas; returns (checksum before, after, frames/s during the drag)."""
    box = page.locator("#viewer").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    before = page.evaluate("window.__medvlm.viewer.screenChecksum()")
    renders0 = page.evaluate("window.__medvlm.viewer.stats.renders")
    page.mouse.move(cx, cy)
    page.mouse.down()
    start = time.perf_counter()
    page.mouse.move(cx + 240, cy + 160, steps=60)
    elapsed = time.perf_counter() - start
    page.mouse.up()
    page.wait_for_timeout(100)
    renders = page.evaluate("window.__medvlm.viewer.stats.renders") - renders0
    after = page.evaluate("window.__medvlm.viewer.screenChecksum()")
    return before, after, renders / elapsed


def _versions(service: LiveService) -> list[dict[str, Any]]:
    response = service.api("GET", f"reports/{service.report_id}/versions")
    assert response.status_code == 200, response.text
    body = response.json()
    return body["items"] if isinstance(body, dict) else body


def test_review_flow_from_login_to_signed_pdf(live_service: LiveService, page: Any, artifacts: Path) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Log in -> worklist, with the drafted study on it.
    login(page, live_service.base_url)
    row = page.locator(f'#worklist-body tr[data-uid="{live_service.study_uid}"]')
    row.wait_for()
    assert "Draft ready" in row.inner_text()
    page.screenshot(path=str(artifacts / "worklist.png"))

    # Open the study: the image comes first (timed from the click).
    clicked_at = page.evaluate("Date.now()")
    row.click()
    page.wait_for_url(re.compile(r"/review/"))
    page.wait_for_function("window.__medvlm && window.__medvlm.viewer.ready", timeout=30_000)
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    stats = json.loads(page.evaluate(VIEWER_STATS))
    first_image_ms = stats["origin"] + stats["firstImageMs"] - clicked_at
    raw_ready_ms = stats["origin"] + stats["rawReadyMs"] - clicked_at
    assert page.locator("#ai-label").inner_text().strip().lower() == "ai draft"
    assert page.locator("#model-version").inner_text().startswith("model ")

    # Window/level drag on the 1955x1841 film changes what is on screen.
    window_before = page.locator("#overlay-wl").inner_text()
    before, after, drag_fps = _drag_window_level(page)
    assert before != after, "dragging window/level did not change the canvas"
    window_after = page.locator("#overlay-wl").inner_text()
    assert re.match(r"W \d+\s+L \d+", window_after) and window_after != window_before
    # The value under the cursor is the film's original stored value at that pixel (not an 8-bit grey).
    box = page.locator("#viewer").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.55)
    shown = re.match(r"\((\d+), (\d+)\)\s+(-?\d+)", page.locator("#overlay-pixel").inner_text())
    assert shown, page.locator("#overlay-pixel").inner_text()
    x, y, value = (int(g) for g in shown.groups())
    import pydicom

    film = pydicom.dcmread(film_path())
    assert value == int(film.pixel_array[y, x]) and value > 255

    loops = {"drag": page.evaluate(RENDER_LOOP, True), "full resolution": page.evaluate(RENDER_LOOP, False)}
    page.keyboard.press("1")  # lung preset from the keyboard (focus is on the canvas after the drag)
    assert page.locator('[data-preset="lung"]').get_attribute("class").split().count("active") == 1
    page.screenshot(path=str(artifacts / "review.png"))

    # Toggle a finding: the change is saved with the report.
    toggle = page.locator(".finding .toggle").first
    label = toggle.get_attribute("data-label")
    was = toggle.get_attribute("aria-pressed")
    toggle.click()
    flipped = page.locator(f'.finding .toggle[data-label="{label}"]')
    assert flipped.get_attribute("aria-pressed") != was
    _wait_saved(page)
    saved = live_service.api("GET", f"studies/{live_service.study_uid}/report").json()
    presence = {f["label"]: f["presence"] for f in saved["findings"]}
    assert presence[label] == ("absent" if was == "true" else "present")

    # Regenerate the draft from the edited findings: a REGENERATED version appears.
    page.click("#regenerate")
    page.wait_for_function("!document.querySelector('#regenerate')?.disabled", timeout=120_000)
    _wait_saved(page)
    kinds = [v["kind"] for v in _versions(live_service)]
    server_log = (live_service.logs / "server.log").read_text()[-1500:]
    assert "REGENERATED" in kinds, (f"versions {kinds}; page says {page.locator('#toast').text_content()!r}; "
                                    f"server log: {server_log}")

    # Edit the impression and reload at once: the edit survives (local copy, then autosave).
    page.fill("#draft-impression", EDITED_IMPRESSION)
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    assert page.input_value("#draft-impression") == EDITED_IMPRESSION
    _wait_saved(page)
    stored = live_service.api("GET", f"studies/{live_service.study_uid}/report").json()
    assert stored["impression"] == EDITED_IMPRESSION
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    assert page.input_value("#draft-impression") == EDITED_IMPRESSION
    page.click("#diff-details summary")
    assert "UITEST-4242" in " ".join(page.locator("#diff ins").all_inner_texts())

    # Sign: confirmation first, then read-only with exports and addenda.
    page.click("#sign-button")
    page.wait_for_selector("#sign-dialog[open]")
    page.click("#sign-confirm")
    page.wait_for_selector("#signed-panel:not([hidden])", timeout=30_000)
    assert page.locator("#draft-impression").get_attribute("readonly") is not None
    assert page.locator("#report-status").inner_text() == "Signed"
    page.screenshot(path=str(artifacts / "review-signed.png"))

    # Download the PDF through the page and find the edited text in it.
    with page.expect_download() as download_info:
        page.click('[data-export="pdf"]')
    pdf_path = download_info.value.path()
    from pypdf import PdfReader

    pdf = PdfReader(io.BytesIO(Path(pdf_path).read_bytes()))
    pdf_text = " ".join(p.extract_text() or "" for p in pdf.pages)
    assert "UITEST-4242" in re.sub(r"\s+", " ", pdf_text)

    # The other exports are one click away too; an addendum is the only change left after signing.
    with page.expect_download() as download_info:
        page.click('[data-export="fhir"]')
    fhir = json.loads(Path(download_info.value.path()).read_text())
    assert fhir["resourceType"] == "DiagnosticReport"
    with page.expect_download() as download_info:
        page.click('[data-export="sr"]')
    assert Path(download_info.value.path()).read_bytes()[128:132] == b"DICM"
    page.fill("#addendum-text", "Addendum UITEST: compared with outside films, unchanged.")
    page.click("#addendum-form button[type=submit]")
    page.wait_for_function("document.querySelector('#addenda').textContent.includes('Addendum UITEST')")

    # The database holds the pair: ORIGINAL (model draft) and FINAL (signed, with the edit).
    engine = create_engine(live_service.database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, impression FROM service_report_versions WHERE report_id = :r "
                                 "ORDER BY version"), {"r": live_service.report_id}).all()
    engine.dispose()
    kinds = [r.kind for r in rows]
    assert kinds[0] == "ORIGINAL" and kinds[-1] == "FINAL" and kinds.count("FINAL") == 1
    assert rows[-1].impression == EDITED_IMPRESSION != rows[0].impression
    assert not errors, f"JavaScript errors on the page: {errors}"

    print(f"\n[ui] study open -> first image: {first_image_ms:.0f} ms "
          f"(full-resolution values: {raw_ready_ms:.0f} ms)")
    print(f"[ui] window/level real mouse drag: {drag_fps:.1f} frames/s (events paced by the CDP round trip)")
    for name, loop in loops.items():
        print(f"[ui] window/level render loop on the 1955x1841 film ({name}): "
              f"{loop['frames'] / loop['seconds']:.1f} frames/s, {loop['mean_ms']:.1f} ms per frame")
