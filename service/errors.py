"""Errors of the service and the one place that maps every error class to one HTTP status.

Library errors (``medvlm.errors``) cross into the API unchanged and are translated here; the response
body is ``{"detail": <one readable line>, "error": <class name>}``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from medvlm import errors as lib
from medvlm.compliance import errors as compliance
from medvlm.pacs.errors import PacsError
from medvlm.service.exports.errors import ExportError


class ServiceError(lib.MedVLMError):
    """Base class of errors raised by the service itself."""


class AuthenticationError(ServiceError):
    """No credentials, wrong credentials, or an expired / tampered / revoked token or key."""


class PermissionDeniedError(ServiceError):
    """The caller's role may not use this endpoint."""


class ConflictError(ServiceError):
    """The request is based on stale data (an old report version) or collides with existing data."""


class WorkflowError(ConflictError):
    """An event that the report's current state does not allow (edit after sign, addendum to a draft)."""


class UnsupportedMediaError(ServiceError):
    """A request body of a type this endpoint does not read."""


class NotAcceptableError(ServiceError):
    """The client's Accept header names no representation this endpoint can give."""


class InvalidInputError(ServiceError):
    """A well-formed request whose content cannot be used (non-DICOM upload, unknown finding)."""


class PayloadTooLargeError(lib.LimitExceededError):
    """An upload over ``max_upload_bytes`` (refused before it is read whole)."""


class DraftingFailedError(ServiceError):
    """The model raised while redrafting: a server-side failure, reported with its reason."""


class ModelUnavailableError(ServiceError):
    """An action that needs the drafting model when none is configured or loadable."""


class DirectoryUnavailableError(ServiceError):
    """The LDAP / Active Directory server did not answer a sign-on (local accounts still work)."""


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
    return JSONResponse(
        {"detail": str(exc), "error": type(exc).__name__}, status_code=status, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(lib.MedVLMError, _handle)
