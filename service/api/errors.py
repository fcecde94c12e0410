"""The one place that maps every error class to one HTTP status.

Library errors (``medvlm.errors``), compliance and export errors cross into the API unchanged and are
translated here; the response body is ``{"detail": <one readable line>, "error": <class name>}``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from medvlm import errors as lib
from medvlm.compliance import errors as compliance
from medvlm.service.errors import (
    AuthenticationError,
    ConflictError,
    DraftingFailedError,
    InvalidInputError,
    ModelUnavailableError,
    NotAcceptableError,
    PermissionDeniedError,
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
    (InvalidInputError, 422),
    (ExportError, 422),
    (lib.ConfigError, 409),
    # The audit store failing is the server's fault, not the caller's: the action was rolled back.
    (compliance.AuditError, 503),
    (DraftingFailedError, 503),
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
    return JSONResponse(
        {"detail": str(exc), "error": type(exc).__name__}, status_code=status, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(lib.MedVLMError, _handle)
