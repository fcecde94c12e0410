"""Which model to serve when none is named: the registry's production version, else MEDVLM_MODEL_DIR."""

from __future__ import annotations

from pathlib import Path

from medvlm.errors import NotFoundError
from medvlm.settings import Settings, get_settings


def resolve_model_dir(model_dir: Path | None = None, settings: Settings | None = None) -> Path:
    """``model_dir`` if given, else the production version's directory, else ``settings.model_dir``."""
    if model_dir is not None:
        return Path(model_dir)
    from medvlm.registry.registry import production_version

    production = production_version(settings=settings)
    if production is not None:
        return Path(production.model_dir)
    configured = (settings or get_settings()).model_dir
    if configured is not None:
        return Path(configured)
    raise NotFoundError("no model given and no production model in the registry; pass --model DIR or "
                        "promote one with `medvlm models promote ID`")
