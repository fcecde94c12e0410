"""Errors of medvlm.dataset."""

from __future__ import annotations

from medvlm.errors import MedVLMError, NotFoundError


class DatasetError(MedVLMError):
    """A dataset directory or build request that cannot be used."""


class ManifestNotFoundError(NotFoundError, DatasetError):
    """A directory without ``manifest.jsonl``."""
