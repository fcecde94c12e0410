"""Serves the clinician review UI: the two pages and ``ui/static``, with no build step.

The pages are static HTML; all data comes from ``/api/v1`` with the bearer token the page keeps in
``sessionStorage``, so nothing here needs authentication. Static files are served by one route (not a
Starlette ``Mount``) because ``include_router`` copies routes, and a mount would be lost on the way.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse

from medvlm.compliance.policy import POLICY
from medvlm.findings import Presence, critical_rule
from medvlm.package_data import UI_DIR
from medvlm.service.auth import oidc
from medvlm.service.statuses import REPORT_STATUS_LABELS, STUDY_STATUS_LABELS
from medvlm.settings import get_settings

STATIC_DIR = (UI_DIR / "static").resolve()  # resolved: the traversal check compares resolved paths
log = logging.getLogger(__name__)

# Pages are tiny and change with a deploy; assets get a short cache so a reload picks up a new version.
_NO_STORE = {"Cache-Control": "no-store"}
_SHORT_CACHE = {"Cache-Control": "max-age=300"}
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(UI_DIR / name, media_type="text/html; charset=utf-8", headers=_NO_STORE)


@router.get("/")
def worklist_page() -> FileResponse:
    """Login and worklist."""
    return _page("index.html")


@router.get("/review/{study_uid}")
def review_page(study_uid: str) -> FileResponse:
    """Viewer, findings and draft editor for one study (the page reads the UID from its URL)."""
    return _page("review.html")


@router.get("/corrections")
def corrections_page() -> FileResponse:
    """Correction burden per model version (researchers, admins; the data comes from the API)."""
    return _page("corrections.html")


@router.get("/ui/static/{asset_path:path}")
def static_asset(asset_path: str) -> FileResponse:
    """A file under ``ui/static``; anything outside it, or of an unknown type, is a 404."""
    target = (STATIC_DIR / asset_path).resolve()
    media_type = _MEDIA_TYPES.get(target.suffix)
    if not target.is_relative_to(STATIC_DIR) or media_type is None or not target.is_file():
        raise HTTPException(status_code=404, detail=f"no UI asset {asset_path!r}")
    return FileResponse(target, media_type=media_type, headers=_SHORT_CACHE)


@lru_cache(maxsize=1)
def _ontology_payload() -> dict[str, Any]:
    """Per finding: display name, allowed lateralities and severities, critical flag (for the editors)."""
    from medvlm.errors import ConfigError
    from medvlm.ontology import load_ontology

    try:
        ontology = load_ontology()
    except ConfigError as exc:  # the review page still works, with generic choices; say why
        log.warning("the findings panel falls back to generic choices: %s", exc)
        return {"findings": {}}
    findings: dict[str, Any] = {}
    for name in ontology.names:
        spec = ontology.get(name)
        findings[name] = {
            "display": spec.display,
            "lateralities": list(spec.lateralities),
            "severities": list(spec.severities),
            # The critical rule evaluated here, once per presence and severity ("" = none), so that the UI
            # looks the answer up instead of keeping its own copy of the rule.
            "critical_when": {
                presence.value: {
                    severity or "": critical_rule(
                        presence, severity, always=spec.critical, critical_severities=spec.critical_severities
                    )
                    for severity in (None, *spec.severities)
                }
                for presence in Presence
            },
        }
    return {"findings": findings}


@router.get("/ui/vocabulary.json")
def vocabulary_json(request: Request) -> JSONResponse:
    """Study and report statuses with display labels, in worklist order (``medvlm.service.statuses``), the
    role policy's permissions, and the sign-on choices besides the password (the login page's buttons)."""
    settings = getattr(request.app.state, "settings", None) or get_settings()  # the router mounted alone
    sso = {"name": settings.oidc_display_name or "SSO", "login": "/api/v1/auth/oidc/login"}
    return JSONResponse(
        {
            "study_statuses": {status.value: label for status, label in STUDY_STATUS_LABELS.items()},
            "report_statuses": {status.value: label for status, label in REPORT_STATUS_LABELS.items()},
            # role -> permissions (``medvlm.compliance.policy``): the UI offers an action only to the roles
            # the API lets do it (the API still decides)
            "permissions": {role.value: sorted(p.value for p in granted) for role, granted in POLICY.items()},
            # OpenID Connect sign-on when configured (``service.auth.oidc``), else null: no button
            "sso": sso if oidc.enabled(settings) else None,
        },
        headers=_SHORT_CACHE,
    )


@router.get("/ui/ontology.json")
def ontology_json() -> JSONResponse:
    """The ontology facts the findings panel needs; public (it holds no patient data)."""
    return JSONResponse(_ontology_payload(), headers=_SHORT_CACHE)
