"""Errors of the DICOM network boundary."""

from __future__ import annotations

from medvlm.errors import MedVLMError


class PacsError(MedVLMError):
    """A DICOM peer that cannot be reached, refuses the association, or answers with a failure status."""


class ListenerError(PacsError):
    """The DICOM listener cannot start (port in use, bad AE title, bad address)."""
