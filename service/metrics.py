"""Prometheus metrics of one app instance (own registry, so several apps in one process do not collide)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    jobs: Gauge


def install_metrics(app: FastAPI) -> Metrics:
    registry = CollectorRegistry()
    metrics = Metrics(
        registry=registry,
        requests=Counter(
            "medvlm_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry
        ),
        latency=Histogram(
            "medvlm_http_request_seconds", "HTTP request latency", ["method", "route"], registry=registry
        ),
        jobs=Gauge("medvlm_draft_jobs", "Draft jobs by status", ["status"], registry=registry),
    )

    paths: dict[object, str | None] = {}  # endpoint -> full route template (filled on first request)

    def _template(request: Request) -> str:
        if not paths:
            for ctx in iter_route_contexts(app.routes):
                paths[getattr(ctx, "endpoint", None)] = ctx.path
        # The template, not the URL, so that ids do not explode the label count.
        return paths.get(request.scope.get("endpoint")) or "unmatched"

    @app.middleware("http")
    async def _observe(request: Request, call_next):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        response = await call_next(request)
        path = _template(request)
        metrics.requests.labels(request.method, path, str(response.status_code)).inc()
        metrics.latency.labels(request.method, path).observe(time.perf_counter() - start)
        return response

    return metrics
