"""The one place that maps every error class to one HTTP status.

Library errors (``medvlm.errors``), compliance and export errors cross into the API unchanged and are
translated here; the response body is ``{"detail": <one readable line>, "error": <class name>}``.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from medvlm import errors as lib
from medvlm.compliance import errors as compliance
from medvlm.pacs.errors import PacsError
from medvlm.service.errors import (
    AuthenticationError,
    ConflictError,
    DirectoryUnavailableError,
    DraftingFailedError,
    InvalidInputError,
    ModelUnavailableError,
    NotAcceptableError,
    PermissionDeniedError,
    QueryError,
    TooManyRequestsError,
    UnsupportedMediaError,
    WorkflowError,
)
from medvlm.service.exports.errors import ExportError

# Most specific first: the first matching class decides the status.
STATUS_BY_ERROR: list[tuple[type[Exception], int]] = [
    (AuthenticationError, 401),
    (compliance.PermissionDeniedError, 403),
    (PermissionDeniedError, 403),
    (lib.NotFoundError, 404),
    (TooManyRequestsError, 429),
    (WorkflowError, 409),
    (ConflictError, 409),
    (lib.StoreConflictError, 409),
    (ModelUnavailableError, 409),
    (lib.LimitExceededError, 413),
    (NotAcceptableError, 406),
    (UnsupportedMediaError, 415),
    (lib.UnsafeArchiveError, 422),
    (lib.DicomError, 422),
    (lib.ModelInputError, 422),
    (QueryError, 400),  # PS3.18 8.3.4: a QIDO-RS query the server cannot run is a Bad Request
    (InvalidInputError, 422),
    (ExportError, 422),
    (lib.ConfigError, 409),
    # The audit store failing is the server's fault, not the caller's: the action was rolled back.
    (compliance.AuditError, 503),
    (lib.StorageFullError, 507),
    (lib.StorageUnavailableError, 503),
    (lib.DatabaseUnavailableError, 503),
    (DraftingFailedError, 503),
    (DirectoryUnavailableError, 503),
    (PacsError, 502),  # the PACS refused or did not answer a query / retrieval we made for the caller
    (lib.MedVLMError, 400),
]


def status_for(exc: Exception) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


async def _handle(_request: Request, exc: Exception) -> JSONResponse:
    status = status_for(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyRequestsError):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(
        {"detail": str(exc), "error": type(exc).__name__}, status_code=status, headers=headers
    )


log = logging.getLogger("medvlm.service")


async def _database_down(_request: Request, exc: Exception) -> JSONResponse:
    """The database cannot be reached (or refuses connections): the server's trouble, worth a retry. The
    driver's message is logged, not sent: it names hosts and may quote SQL."""
    log.error("database unavailable: %s", exc)
    return JSONResponse({"detail": "database unavailable; nothing was changed, try again shortly",
                         "error": "DatabaseUnavailableError"}, status_code=503, headers={"Retry-After": "5"})


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    """A bug: JSON like every other answer, without the internals (they are in the log)."""
    log.error("unhandled %s", type(exc).__name__, exc_info=exc)
    return JSONResponse({"detail": "internal error (logged); the request was not completed",
                         "error": "InternalError"}, status_code=500)


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, without the submitted values: ``input`` would echo a password (or a patient's
    data) back into a response, a proxy's log and the browser's cache."""
    assert isinstance(exc, RequestValidationError)
    errors = [{key: ({k: str(v) for k, v in value.items()} if key == "ctx" else value)
               for key, value in error.items() if key not in ("input", "url")} for error in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(lib.MedVLMError, _handle)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for cls in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
                sa_exc.TimeoutError):
        app.add_exception_handler(cls, _database_down)
    app.add_exception_handler(Exception, _unexpected)
