"""Operations: /health (no auth), /ready and /metrics (Prometheus text; admin or integration key)."""

from __future__ import annotations

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlmodel import func, select

from medvlm.service.api.deps import MetricsDep, SessionDep
from medvlm.service.api.routing import resource_router
from medvlm.service.db.tables import DraftJob
from medvlm.service.jobs.queue import JOB_STATUSES
from medvlm.service.metrics import render

router = resource_router(tags=["ops"])


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
def ready(request: Request, session: SessionDep, _caller: MetricsDep) -> dict[str, object]:
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return {"status": "ready", "database": "ok", "model_configured": request.app.state.drafter() is not None}


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request, session: SessionDep, _caller: MetricsDep) -> Response:
    m = request.app.state.metrics
    counts = dict(session.exec(select(DraftJob.status, func.count()).group_by(DraftJob.status)).all())
    for status in sorted(set(JOB_STATUSES) | set(counts)):  # a status no job has any more reads 0
        m.jobs.labels(status=status).set(counts.get(status, 0))
    return Response(render(m), media_type=CONTENT_TYPE_LATEST)
