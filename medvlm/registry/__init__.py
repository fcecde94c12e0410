"""Model registry: versions with provenance and metrics, the promotion gate, the production version."""

from medvlm.registry.registry import (
    attach_metrics,
    get_version,
    list_versions,
    production_version,
    promote,
    register_version,
)
from medvlm.registry.resolve import resolve_model_dir
from medvlm.registry.schemas import ModelVersionPublic

__all__ = [
    "ModelVersionPublic",
    "attach_metrics",
    "get_version",
    "list_versions",
    "production_version",
    "promote",
    "register_version",
    "resolve_model_dir",
]
