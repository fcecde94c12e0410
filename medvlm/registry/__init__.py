"""Model registry: versions with provenance and metrics, the promotion gate, the production version."""

from medvlm.registry.registry import (
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
    "get_version",
    "list_versions",
    "production_version",
    "promote",
    "register_version",
    "resolve_model_dir",
]
