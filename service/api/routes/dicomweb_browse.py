"""DICOMweb for viewers: QIDO-RS series / instance search, WADO-RS metadata, frames and rendered images.

Frames are numbered from 1 (PS3.18); a frame request answers ``multipart/related;
type="application/octet-stream"`` with each frame's pixel values decoded, little endian (Explicit VR Little
Endian transfer syntax), whatever the stored syntax was. Rendered answers ``image/png`` with the VOI
window applied (``window=center,width[,linear]``).
"""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any

from fastapi import Path, Query, Request, Response

from medvlm.db.models import Instance, Series
from medvlm.errors import NotFoundError
from medvlm.service.api.deps import SessionDep, SettingsDep, StudyReaderDep
from medvlm.service.api.ids import SeriesUID, SopUID, StudyUID
from medvlm.service.api.routes.dicomweb import (
    DICOM_JSON,
    QIDO_ANSWERS,
    Limit,
    Offset,
    _accepts_dicom_json,
    _base_url,
    qido,
)
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.dicomweb import browse
from medvlm.service.dicomweb.multipart import media_params
from medvlm.service.dicomweb.search import Scope
from medvlm.service.errors import InvalidInputError, NotAcceptableError
from medvlm.service.studies.access import visible_study
from medvlm.service.studies.frames import parse_window, raw_frame, render_frame_png

router = resource_router(prefix="/dicomweb", tags=["dicomweb"])
Frames = Annotated[
    str, Path(max_length=256, pattern=r"^[0-9]+(,[0-9]+)*$", description="frame numbers from 1")
]
OCTETS = "application/octet-stream"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def _json(session: SessionDep, caller: StudyReaderDep, found: list, action: str, resource: str) -> Response:
    audit(
        session,
        actor=caller.actor,
        action=action,
        resource_type="dicomweb",
        resource_id=resource,
        detail={"results": len(found)},
    )
    if not found and action == "study.search":
        return Response(status_code=204)
    return Response(json.dumps(found), media_type=DICOM_JSON)


@router.get("/studies/{study_uid}/series", response_class=Response, responses=QIDO_ANSWERS)
def search_series(
    study_uid: StudyUID,
    request: Request,
    session: SessionDep,
    caller: StudyReaderDep,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Response:
    """QIDO-RS: the study's series (SeriesInstanceUID, Modality, SeriesNumber, SeriesDescription)."""
    visible_study(session, caller, study_uid)
    return qido(request, session, caller, Scope("series", study_uid), limit=limit, offset=offset)


@router.get("/studies/{study_uid}/instances", response_class=Response, responses=QIDO_ANSWERS)
@router.get(
    "/studies/{study_uid}/series/{series_uid}/instances", response_class=Response, responses=QIDO_ANSWERS
)
def search_instances(
    study_uid: StudyUID,
    request: Request,
    session: SessionDep,
    caller: StudyReaderDep,
    series_uid: SeriesUID | None = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Response:
    """QIDO-RS: the study's (or series') instances (SOPInstanceUID, SOPClassUID, InstanceNumber; series
    keys too for the whole study)."""
    visible_study(session, caller, study_uid)
    scope = Scope("instance", study_uid, series_uid)
    return qido(request, session, caller, scope, limit=limit, offset=offset)


def _rows(
    session: SessionDep, study_uid: str, series_uid: str | None, sop_uid: str | None
) -> list[tuple[Instance, Series]]:
    rows = browse.instances_of(session, study_uid, series_uid, sop_uid)
    if not rows:
        what = f"instance {sop_uid}" if sop_uid else f"series {series_uid}" if series_uid else "any instance"
        raise NotFoundError(f"{what} not found in study {study_uid}")
    return rows


@router.get(
    "/studies/{study_uid}/metadata", response_class=Response, responses={200: {"content": {DICOM_JSON: {}}}}
)
@router.get(
    "/studies/{study_uid}/series/{series_uid}/metadata",
    response_class=Response,
    responses={200: {"content": {DICOM_JSON: {}}}},
)
@router.get(
    "/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/metadata",
    response_class=Response,
    responses={200: {"content": {DICOM_JSON: {}}}},
)
def retrieve_metadata(
    study_uid: StudyUID,
    request: Request,
    session: SessionDep,
    caller: StudyReaderDep,
    series_uid: SeriesUID | None = None,
    sop_uid: SopUID | None = None,
) -> Response:
    """WADO-RS metadata: the stored headers as DICOM JSON, pixel data linked to the frames resource."""
    _accepts_dicom_json(request)
    visible_study(session, caller, study_uid)
    found = browse.metadata(_rows(session, study_uid, series_uid, sop_uid), study_uid, _base_url(request))
    return _json(session, caller, found, "study.metadata", sop_uid or series_uid or study_uid)


def _frame_numbers(frames: str, instance: Instance) -> list[int]:
    try:
        numbers = [int(f) for f in frames.split(",")]
    except ValueError:
        raise InvalidInputError(
            f"frames must be a comma-separated list of numbers from 1, got {frames!r}"
        ) from None
    bad = [n for n in numbers if not 1 <= n <= instance.frames]
    if bad:
        raise InvalidInputError(
            f"frame(s) {bad} out of range: the instance has {instance.frames} frame(s), numbered from 1"
        )
    return numbers


def _one(
    session: SessionDep, caller: StudyReaderDep, study_uid: str, series_uid: str, sop_uid: str
) -> Instance:
    visible_study(session, caller, study_uid)
    return _rows(session, study_uid, series_uid, sop_uid)[0][0]


@router.get(
    "/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/frames/{frames}",
    response_class=Response,
    responses={200: {"content": {"multipart/related": {}}}},
)
def retrieve_frames(
    study_uid: StudyUID,
    series_uid: SeriesUID,
    sop_uid: SopUID,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    caller: StudyReaderDep,
    frames: Frames,
) -> Response:
    """WADO-RS frames: decoded pixel values, one part per requested frame."""
    accept = request.headers.get("accept", "")
    for item in [r for r in accept.split(",") if r.strip()] or ["*/*"]:
        media, params = media_params(item)
        if media in ("*/*", "multipart/*") or (
            media == "multipart/related"
            and params.get("type", OCTETS).lower() in (OCTETS, "*/*", "application/*")
            and params.get("transfer-syntax", EXPLICIT_LE) in ("*", EXPLICIT_LE)
        ):
            break
    else:
        raise NotAcceptableError(
            f'frames are answered as multipart/related; type="{OCTETS}" (decoded, '
            f"transfer-syntax={EXPLICIT_LE}); the Accept header asks for {accept!r}"
        )
    instance = _one(session, caller, study_uid, series_uid, sop_uid)
    numbers = _frame_numbers(frames, instance)
    boundary = secrets.token_hex(16)
    body = (
        b"".join(
            f"--{boundary}\r\nContent-Type: {OCTETS}; transfer-syntax={EXPLICIT_LE}\r\n"
            f"Content-Location: {_base_url(request)}/studies/{study_uid}/series/{series_uid}"
            f"/instances/{sop_uid}/frames/{n}\r\n\r\n".encode()
            + raw_frame(settings, instance, n - 1)[0]
            + b"\r\n"
            for n in numbers
        )
        + f"--{boundary}--\r\n".encode()
    )
    audit(
        session,
        actor=caller.actor,
        action="study.retrieve",
        resource_type="dicomweb",
        resource_id=sop_uid,
        detail={"frames": numbers},
    )
    return Response(body, media_type=f'multipart/related; type="{OCTETS}"; boundary={boundary}')


def _window(window: str | None) -> tuple[float, float] | None:
    if window is None:
        return None
    parts = window.split(",")
    if len(parts) == 3 and parts[2].strip().lower() not in ("linear", ""):
        raise InvalidInputError(f"only the linear VOI function is rendered, got {parts[2]!r}")
    return parse_window(",".join(parts[:2]))


def _rendered(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    caller: StudyReaderDep,
    ids: tuple[str, str, str],
    frames: str,
    window: str | None,
) -> Response:
    accept = request.headers.get("accept", "")
    wanted = {media_params(r)[0] for r in accept.split(",") if r.strip()}
    if wanted and not {"*/*", "image/*", "image/png"} & wanted:
        raise NotAcceptableError(f"rendered images are image/png; the Accept header asks for {accept!r}")
    instance = _one(session, caller, *ids)
    number = _frame_numbers(frames, instance)[0]
    png = render_frame_png(settings, instance, number - 1, _window(window), None)
    audit(
        session,
        actor=caller.actor,
        action="study.render",
        resource_type="dicomweb",
        resource_id=ids[2],
        detail={"frame": number},
    )
    return Response(png, media_type="image/png")


Window = Annotated[str | None, Query(max_length=64, description="center,width[,linear]")]
PNG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}}}


@router.get(
    "/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/rendered",
    response_class=Response,
    responses=PNG,
)
def retrieve_rendered(
    study_uid: StudyUID,
    series_uid: SeriesUID,
    sop_uid: SopUID,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    caller: StudyReaderDep,
    window: Window = None,
) -> Response:
    """WADO-RS rendered instance: its first frame as PNG, windowed."""
    return _rendered(request, session, settings, caller, (study_uid, series_uid, sop_uid), "1", window)


@router.get(
    "/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/frames/{frames}/rendered",
    response_class=Response,
    responses=PNG,
)
def retrieve_rendered_frame(
    study_uid: StudyUID,
    series_uid: SeriesUID,
    sop_uid: SopUID,
    frames: Frames,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    caller: StudyReaderDep,
    window: Window = None,
) -> Response:
    """WADO-RS rendered frames: the first requested frame as PNG, windowed."""
    return _rendered(request, session, settings, caller, (study_uid, series_uid, sop_uid), frames, window)
