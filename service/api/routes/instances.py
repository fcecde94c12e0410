"""Frames: rendered PNG with window/level, or raw stored values for the viewer (audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response

from medvlm.service.api.deps import SessionDep, SettingsDep, StudyReaderDep
from medvlm.service.api.ids import SopUID
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.studies.access import visible_instance
from medvlm.service.studies.frames import parse_window, raw_frame, render_frame_png

router = resource_router(prefix="/instances", tags=["instances"])
FrameNo = Annotated[int, Path(ge=0, le=100_000, description="Frame number, from 0")]


@router.get(
    "/{sop_uid}/frames/{frame}.png", response_class=Response, responses={200: {"content": {"image/png": {}}}}
)
def frame_png(
    sop_uid: SopUID,
    frame: FrameNo,
    session: SessionDep,
    settings: SettingsDep,
    caller: StudyReaderDep,
    window: Annotated[str | None, Query(max_length=64, description="center,width")] = None,
    max_size: Annotated[int | None, Query(ge=16, le=8192)] = None,
) -> Response:
    instance = visible_instance(session, caller, sop_uid)
    win = parse_window(window)
    png = render_frame_png(settings, instance, frame, win, max_size)
    audit(
        session,
        actor=caller.actor,
        action="frame.read",
        resource_type="instance",
        resource_id=sop_uid,
        detail={"frame": frame, "format": "png"},
    )
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get(
    "/{sop_uid}/frames/{frame}/raw",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def frame_raw(
    sop_uid: SopUID, frame: FrameNo, session: SessionDep, settings: SettingsDep, caller: StudyReaderDep
) -> Response:
    instance = visible_instance(session, caller, sop_uid)
    data, headers = raw_frame(settings, instance, frame)
    audit(
        session,
        actor=caller.actor,
        action="frame.read",
        resource_type="instance",
        resource_id=sop_uid,
        detail={"frame": frame, "format": "raw"},
    )
    return Response(
        data,
        media_type="application/octet-stream",
        headers={**headers, "Cache-Control": "private, max-age=300"},
    )
