"""Errors of the exports: each names what the export expected and what it got."""

from __future__ import annotations

from medvlm.errors import MedVLMError


class ExportError(MedVLMError):
    """An export that cannot be produced from the given report."""


class ExportInputError(ExportError):
    """A report context that is inconsistent or lacks what the export needs (e.g. an unreadable key image)."""
