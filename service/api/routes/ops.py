"""Operations: /health (no auth), /ready and /metrics (Prometheus text; admin or integration key)."""

from __future__ import annotations

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlmodel import func, select

from service.api.deps import MetricsDep, SessionDep
from service.api.routing import resource_router
from service.db.tables import DraftJob

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
    for status, count in session.exec(select(DraftJob.status, func.count()).group_by(DraftJob.status)).all():
        m.jobs.labels(status=status).set(count)
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
