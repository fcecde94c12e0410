"""Errors of the service. The HTTP layer maps each class to one status (``medvlm.service.api.errors``)."""

from __future__ import annotations

from medvlm import errors as lib


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


class QueryError(InvalidInputError):
    """A search (QIDO-RS) query the server cannot run: an unknown match key, a malformed value (400)."""


class TooManyRequestsError(ServiceError):
    """Too many attempts (failed logins): refused for a while; ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLargeError(lib.LimitExceededError):
    """An upload over ``max_upload_bytes`` (refused before it is read whole)."""


class DraftingFailedError(ServiceError):
    """The model raised while redrafting: a server-side failure, reported with its reason."""


class ModelUnavailableError(ServiceError):
    """An action that needs the drafting model when none is configured or loadable."""


class DirectoryUnavailableError(ServiceError):
    """The LDAP / Active Directory server did not answer a sign-on (local accounts still work)."""
