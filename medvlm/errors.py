"""Errors of the ``medvlm`` package.

Boundaries (CLI, API, DICOM listener) translate them; each message names the problem.
"""

from __future__ import annotations


class MedVLMError(Exception):
    """Base class: the message is one readable line for a person."""


class ConfigError(MedVLMError):
    """Settings, curriculum or model configuration that cannot be used."""


class DicomError(MedVLMError):
    """A DICOM input that cannot be read or does not carry what a report needs."""


class PixelDecodeError(DicomError):
    """Pixel data that cannot be decoded, or that breaks a configured limit."""


class LimitExceededError(MedVLMError):
    """An input over a configured size limit (file bytes, pixels, archive members)."""


class UnsafeArchiveError(MedVLMError):
    """An archive with a path-traversal name, a link, or a decompression bomb."""


class StoreConflictError(MedVLMError):
    """Same SOP Instance UID already stored with different bytes."""


class StorageFullError(MedVLMError):
    """The study store's disk is full (ENOSPC): nothing was stored; retry once space is freed."""


class StorageUnavailableError(MedVLMError):
    """The study store cannot be written (permissions, I/O error): nothing was stored."""


class DatabaseUnavailableError(MedVLMError):
    """The database cannot be reached: nothing was indexed; retry later."""


class NotFoundError(MedVLMError):
    """A study, series, instance, model or other object that does not exist."""


class ModelInputError(MedVLMError):
    """Inputs to the model that disagree with its configuration (shape, image tokens, features)."""


class CurriculumError(ConfigError):
    """A curriculum file that is invalid; raised before any training starts."""


class PromotionRefusedError(MedVLMError):
    """A candidate model that falls below production by more than the tolerance."""
