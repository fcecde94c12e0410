"""Prometheus metrics of one app instance (own registry, so several apps in one process do not collide).

Several API processes (``service.processes``) share one view: prometheus_client's multiprocess mode, set
by ``PROMETHEUS_MULTIPROC_DIR`` before the processes start, stores each process's values in files there,
and ``render`` adds them up, so a scrape counts every process's requests whichever process answers it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    jobs: Gauge
    worklist_pages: Counter  # by source: "cache" (``service.studies.worklist_cache``) or "database"


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
        # Set from the database at each scrape by the process answering it: its value is the latest.
        jobs=Gauge(
            "medvlm_draft_jobs", "Draft jobs by status", ["status"], registry=registry,
            multiprocess_mode="mostrecent",
        ),
        worklist_pages=Counter(
            "medvlm_worklist_pages_total", "Worklist pages served, by source", ["source"], registry=registry
        ),
    )

    paths: dict[object, str | None] = {}  # endpoint -> full route template (filled on first request)

    def _template(scope: Scope) -> str:
        if not paths:
            for ctx in iter_route_contexts(app.routes):
                paths[getattr(ctx, "endpoint", None)] = ctx.path
        # The template, not the URL, so that ids do not explode the label count.
        return paths.get(scope.get("endpoint")) or "unmatched"

    app.add_middleware(_ObserveRequests, metrics=metrics, template=_template)
    return metrics


def render(metrics: Metrics) -> bytes:
    """The Prometheus text of this app, or of every API process when they share a metrics folder."""
    folder = os.environ.get(MULTIPROCESS_DIR_ENV)
    if not folder:
        return generate_latest(metrics.registry)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)
    return generate_latest(registry)


class _ObserveRequests:
    """Counts and times every HTTP request, as plain ASGI.

    Starlette's ``BaseHTTPMiddleware`` (``@app.middleware("http")``) runs each request through an extra
    task and memory stream; on 2 cores that cost about as much CPU as a cached frame request itself.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, template: Callable[[Scope], str]) -> None:
        self.app, self.metrics, self.template = app, metrics, template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app raises before it answers

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            path = self.template(scope)  # the router filled scope["endpoint"] in place
            self.metrics.requests.labels(scope["method"], path, str(status)).inc()
            self.metrics.latency.labels(scope["method"], path).observe(time.perf_counter() - start)
