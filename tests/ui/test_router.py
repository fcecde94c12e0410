"""``service.ui.router``: pages and static assets served from ``ui/``, nothing outside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from medvlm.service.ui.router import STATIC_DIR, UI_DIR, router


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


@pytest.mark.parametrize(
    ("path", "media_type", "marker"),
    [
        ("/", "text/html", 'id="login-form"'),
        ("/review/1.2.840.113619.2.1", "text/html", 'id="viewer"'),
        ("/ui/static/js/viewer.js", "text/javascript", "export class Viewer"),
        ("/ui/static/js/api.js", "text/javascript", "sessionStorage"),
        ("/ui/static/css/base.css", "text/css", "--bg"),
    ],
)
def test_serves_pages_and_assets(client: TestClient, path: str, media_type: str, marker: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert marker in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/ui/static/js/missing.js",  # not there
        "/ui/static/%2e%2e/index.html",  # escapes ui/static
        "/ui/static/%2e%2e/%2e%2e/service/ui/router.py",  # escapes the UI altogether
        "/ui/static/js",  # a folder
        "/ui/static/js/viewer.js.map",  # an unknown type
    ],
)
def test_refuses_anything_else(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_every_page_reference_resolves(client: TestClient) -> None:
    """Each stylesheet, script and module a page names is served (a typo would break the page silently)."""
    import re

    for page in ("index.html", "review.html"):
        html = (UI_DIR / page).read_text()
        for ref in re.findall(r'(?:href|src)="(/ui/static/[^"]+)"', html):
            assert client.get(ref).status_code == 200, f"{page} refers to {ref}, which is not served"
    for module in STATIC_DIR.glob("js/*.js"):
        for imported in re.findall(r'from "\./([^"]+)"', module.read_text()):
            assert (STATIC_DIR / "js" / imported).is_file(), f"{module.name} imports missing {imported}"


def test_ontology_for_the_findings_panel(client: TestClient) -> None:
    body = client.get("/ui/ontology.json").json()["findings"]
    assert body["pleural_effusion"]["lateralities"] == ["left", "right", "bilateral"]
    # The critical rule comes evaluated from the server (one definition): pneumothorax always, uncertain
    # included; a pleural effusion only when large; nothing absent.
    assert body["pneumothorax"]["critical_when"]["present"][""] is True
    assert body["pneumothorax"]["critical_when"]["uncertain"][""] is True
    assert body["pneumothorax"]["critical_when"]["absent"][""] is False
    effusion = body["pleural_effusion"]["critical_when"]["present"]
    assert effusion["large"] is True and effusion["small"] is False and effusion[""] is False
    assert body["cardiomegaly"]["lateralities"] == []


def test_a_broken_ontology_gives_generic_choices_and_says_why(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import importlib

    import medvlm.ontology

    # the package's `router` name is the APIRouter
    ui_router = importlib.import_module("medvlm.service.ui.router")

    broken = tmp_path / "ontology.yaml"
    broken.write_text("findings: [not, a, mapping\n")
    monkeypatch.setattr(medvlm.ontology, "DEFAULT_PATH", broken)
    ui_router._ontology_payload.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="medvlm.service.ui.router"):
            body = client.get("/ui/ontology.json").json()
    finally:
        ui_router._ontology_payload.cache_clear()
    assert body == {"findings": {}}
    assert "falls back to generic choices" in caplog.text and str(broken) in caplog.text


def test_vocabulary_gives_the_statuses_of_the_one_definition(client: TestClient) -> None:
    from medvlm.service.statuses import ReportStatus, StudyStatus

    body = client.get("/ui/vocabulary.json").json()
    assert list(body["study_statuses"]) == [s.value for s in StudyStatus]
    assert list(body["report_statuses"]) == [s.value for s in ReportStatus]
    assert body["study_statuses"]["draft_ready"] == "Draft ready"
    assert "draft_ready" not in (UI_DIR / "index.html").read_text()  # the filter's choices come from here
