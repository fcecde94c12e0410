"""DICOMweb for integrations: QIDO-RS study search, WADO-RS retrieve, STOW-RS store (PS3.18).

Same authentication, visibility and audit as the rest of the API (an integration key sees the studies
it sent). WADO-RS returns instances as stored (each part's Content-Type names its transfer syntax);
asking for a specific other transfer syntax is answered 406, not silently ignored.
"""

from __future__ import annotations

import json
import secrets
from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from medvlm.db.models import Instance, Series
from medvlm.dicom.study_order import study_instances
from medvlm.errors import NotFoundError
from medvlm.service.api.deps import Principal, SessionDep, SettingsDep, StudyReaderDep, StudyUploaderDep
from medvlm.service.api.ids import SeriesUID, SopUID, StudyUID
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.dicomweb.multipart import DICOM, RelatedReader, media_params, stream_related
from medvlm.service.dicomweb.search import Scope, search
from medvlm.service.dicomweb.stow import response_json, store_parts
from medvlm.service.errors import NotAcceptableError
from medvlm.service.intake.intake import Actor, queue_drafts
from medvlm.service.studies.access import visible_instance, visible_study
from medvlm.service.studies.upload import capped_request

router = resource_router(prefix="/dicomweb", tags=["dicomweb"])
DICOM_JSON = "application/dicom+json"


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/api/v1/dicomweb"


def _accepts_dicom_json(request: Request) -> None:
    accept = request.headers.get("accept", "")
    ranges = [media_params(r)[0] for r in accept.split(",") if r.strip()]
    if ranges and not {"*/*", "application/*", DICOM_JSON, "application/json"} & set(ranges):
        raise NotAcceptableError(f"QIDO-RS answers {DICOM_JSON}; the Accept header asks for {accept!r}")


def _accepts_multipart_dicom(request: Request) -> None:
    accept = request.headers.get("accept", "")
    for item in [r for r in accept.split(",") if r.strip()] or ["*/*"]:
        media, params = media_params(item)
        if media in ("*/*", "multipart/*"):
            return
        dicom = media == "multipart/related" and params.get("type", DICOM).lower() == DICOM
        if dicom and params.get("transfer-syntax", "*") == "*":
            return
    raise NotAcceptableError(
        f'WADO-RS answers multipart/related; type="{DICOM}" with instances as stored '
        f"(transfer-syntax=*); the Accept header asks for {accept!r}"
    )


def qido(
    request: Request, session: Session, caller: Principal, scope: Scope, *, limit: int, offset: int
) -> Response:
    """One QIDO-RS search answered: 200 with the results, 204 when nothing matches; audited."""
    _accepts_dicom_json(request)
    found, keys = search(
        session,
        caller,
        scope,
        request.query_params,
        request.query_params.getlist("includefield"),
        limit=limit,
        offset=offset,
        base_url=_base_url(request),
    )
    audit(
        session,
        actor=caller.actor,
        action="study.search",
        resource_type="dicomweb",
        resource_id=scope.series_uid or scope.study_uid or f"{scope.level}-search",
        detail={"level": scope.level, "keys": keys, "results": len(found)},
    )
    if not found:
        return Response(status_code=204)
    return Response(json.dumps(found), media_type=DICOM_JSON)


Limit = Annotated[int, Query(ge=1, le=10_000)]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]  # bounded: SQL integers are 64-bit
QIDO_ANSWERS: dict[int | str, dict] = {200: {"content": {DICOM_JSON: {}}}, 204: {}, 400: {}}


@router.get("/studies", response_class=Response, responses=QIDO_ANSWERS)
def search_for_studies(
    request: Request, session: SessionDep, caller: StudyReaderDep, limit: Limit = 100, offset: Offset = 0
) -> Response:
    """QIDO-RS studies: StudyInstanceUID, PatientID, PatientName, AccessionNumber, StudyDate (range),
    StudyID, StudyDescription, ReferringPhysicianName, ModalitiesInStudy; includefield."""
    return qido(request, session, caller, Scope("study"), limit=limit, offset=offset)


@router.get("/series", response_class=Response, responses=QIDO_ANSWERS)
def search_for_all_series(
    request: Request, session: SessionDep, caller: StudyReaderDep, limit: Limit = 1000, offset: Offset = 0
) -> Response:
    """QIDO-RS series of every visible study: study and series match keys; includefield."""
    return qido(request, session, caller, Scope("series"), limit=limit, offset=offset)


@router.get("/instances", response_class=Response, responses=QIDO_ANSWERS)
def search_for_all_instances(
    request: Request, session: SessionDep, caller: StudyReaderDep, limit: Limit = 1000, offset: Offset = 0
) -> Response:
    """QIDO-RS instances of every visible study: study, series and instance match keys; includefield."""
    return qido(request, session, caller, Scope("instance"), limit=limit, offset=offset)


def _instances(session: Session, study_uid: str) -> list[Instance]:
    return [instance for instance, _series in session.exec(study_instances(study_uid)).all()]


def _multipart(session: Session, caller: Principal, instances: list[Instance], resource: str) -> Response:
    audit(
        session,
        actor=caller.actor,
        action="study.retrieve",
        resource_type="dicomweb",
        resource_id=resource,
        detail={"instances": len(instances)},
    )
    boundary = secrets.token_hex(16)
    files = [(f"{DICOM}; transfer-syntax={i.transfer_syntax_uid}", i.path) for i in instances]
    return StreamingResponse(
        stream_related(files, boundary),
        media_type=f'multipart/related; type="{DICOM}"; boundary={boundary}',
    )


@router.get(
    "/studies/{study_uid}",
    response_class=StreamingResponse,
    responses={200: {"content": {"multipart/related": {}}}},
)
def retrieve_study(
    study_uid: StudyUID, request: Request, session: SessionDep, caller: StudyReaderDep
) -> Response:
    """WADO-RS: every instance of the study."""
    _accepts_multipart_dicom(request)
    visible_study(session, caller, study_uid)
    return _multipart(session, caller, _instances(session, study_uid), study_uid)


@router.get(
    "/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}",
    response_class=StreamingResponse,
    responses={200: {"content": {"multipart/related": {}}}},
)
def retrieve_instance(
    study_uid: StudyUID,
    series_uid: SeriesUID,
    sop_uid: SopUID,
    request: Request,
    session: SessionDep,
    caller: StudyReaderDep,
) -> Response:
    """WADO-RS: one instance."""
    _accepts_multipart_dicom(request)
    instance = visible_instance(session, caller, sop_uid)
    series = session.get(Series, instance.series_instance_uid)
    if instance.series_instance_uid != series_uid or series is None or series.study_instance_uid != study_uid:
        raise NotFoundError(f"instance {sop_uid} not found in series {series_uid} of study {study_uid}")
    return _multipart(session, caller, [instance], sop_uid)


@router.post(
    "/studies", response_class=Response, responses={200: {"content": {DICOM_JSON: {}}}, 202: {}, 409: {}}
)
async def store_instances(request: Request, settings: SettingsDep, caller: StudyUploaderDep) -> Response:
    """STOW-RS: multipart/related; type="application/dicom". 200 all stored, 202 some, 409 none."""
    # Parsed as it arrives, each part spooled to its own temporary file and read back one at a time, so
    # the process holds about one part, not the body several times over (issue 19).
    actor = Actor(caller.actor, "stow", api_key_id=caller.api_key_id)
    with RelatedReader(request.headers.get("content-type", "")) as reader:
        async for chunk in capped_request(request, settings.max_upload_bytes).stream():
            reader.feed(chunk)
        outcome = await run_in_threadpool(store_parts, settings, actor, reader.close())
    if outcome.study_uids:
        jobs = await run_in_threadpool(
            queue_drafts, request.app.state.engine, settings, outcome.study_uids, outcome.new_studies
        )
        if jobs:
            request.app.state.wake.set()
    status = 200 if not outcome.failed else 202 if outcome.stored else 409
    return Response(
        json.dumps(response_json(outcome, _base_url(request))), status_code=status, media_type=DICOM_JSON
    )
