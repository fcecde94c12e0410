"""Errors of the intended-use gate."""

from medvlm.errors import MedVLMError


class OutsideIntendedUseError(MedVLMError):
    """A study the model must not draft without a clinician's request (the message says why)."""
