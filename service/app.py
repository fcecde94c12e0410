"""The FastAPI application: settings, database, routers under ``/api/v1``, ops routes, UI, error mapping."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio.to_thread
from fastapi import APIRouter, FastAPI

from medvlm.db import get_engine
from medvlm.service import connection_balance
from medvlm.service.api.errors import install_error_handlers
from medvlm.service.api.read_sessions import reads_engine
from medvlm.service.api.routes import (
    api_keys,
    auth,
    corrections,
    dicomweb,
    dicomweb_browse,
    drafts,
    instances,
    jobs,
    oidc,
    ops,
    priors,
    reports,
    retrain,
    studies,
    users,
)
from medvlm.service.auth.lockout import AddressLimiter
from medvlm.service.config import service_settings
from medvlm.service.jobs.drafter import Drafter, drafter_source
from medvlm.service.metrics import install_metrics
from medvlm.service.security_headers import SecurityHeaders
from medvlm.service.studies.worklist_cache import WorklistCache
from medvlm.settings import Settings

API_PREFIX = "/api/v1"


def api_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    modules = (auth, oidc, users, api_keys, studies, drafts, priors, instances, reports, jobs, corrections,
               retrain, dicomweb, dicomweb_browse)
    for module in modules:
        router.include_router(module.router)
    return router


def _thread_pool_of(threads: int) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Size the thread pool that runs sync routes and dependencies once the event loop runs."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return lifespan


def create_app(settings: Settings | None = None, *, drafter: Drafter | None = None) -> FastAPI:
    """The app for ``settings`` (default: the environment's). ``drafter`` overrides the configured model.

    The schema is not created here: run ``medvlm.db.migrate`` (``medvlm serve`` does) before serving.
    """
    settings = service_settings(settings)
    app = FastAPI(
        lifespan=_thread_pool_of(settings.api_threads),
        title="MedVLM",
        version="1.0.0",
        description="On-prem radiology report drafting: worklist, review, sign-off, exports.",
        # Swagger UI and ReDoc load their scripts from a public CDN onto the origin that holds the session
        # token: not served. The schema stays at /openapi.json for integrators' own tools.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = get_engine(settings.resolved_database_url)
    app.state.read_engine = reads_engine(app.state.engine)  # GET routes' sessions (``read_sessions``)
    source = drafter_source(settings) if drafter is None else (lambda: drafter)
    app.state.drafter: Callable[[], Drafter | None] = source  # type: ignore[misc]
    app.state.wake = threading.Event()  # set when jobs are queued; in-process workers wait on it
    app.state.metrics = install_metrics(app)
    app.state.login_limiter = AddressLimiter()  # failed logins per client address (``auth.lockout``)
    megabytes = settings.worklist_cache_mb
    app.state.worklist_cache = WorklistCache(megabytes * 1024 * 1024) if megabytes else None
    balance = connection_balance.installed()
    if balance is not None:  # one of several API processes (``service.processes``)
        app.add_middleware(connection_balance.ReleaseExcessConnections, balance=balance)
    app.add_middleware(SecurityHeaders)  # outermost of ours: error answers get the headers too
    install_error_handlers(app)
    app.include_router(ops.router)
    app.include_router(api_router())
    if importlib.util.find_spec("medvlm.service.ui.router") is not None:
        from medvlm.service.ui.router import router as ui_router

        app.include_router(ui_router)
    return app
