"""Errors of medvlm.synth."""

from __future__ import annotations

from medvlm.errors import MedVLMError


class SynthError(MedVLMError):
    """A film that cannot be rendered as asked."""


class UnrenderableFindingError(SynthError):
    """A finding the renderer cannot draw (unknown label, or one the ontology marks as not renderable)."""
