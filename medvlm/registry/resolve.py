"""Which model drafts: the one documented order, used by ``serve``, ``draft`` and ``eval`` alike.

1. an explicit argument (``--model DIR``);
2. a pin: ``MEDVLM_MODEL_DIR`` (a site that wants one fixed model, whatever the registry says);
3. the registry's production version (a promotion applies to the next draft).
"""

from __future__ import annotations

from pathlib import Path

from medvlm.errors import NotFoundError
from medvlm.settings import Settings, get_settings


def pinned_model_dir(settings: Settings | None = None) -> Path | None:
    """The pin (step 2), or None: the service checks it once and then follows the registry."""
    configured = (settings or get_settings()).model_dir
    return Path(configured) if configured is not None else None


def resolve_model_dir(model_dir: Path | None = None, settings: Settings | None = None) -> Path:
    """The model directory by the order above; NotFoundError naming both ways out when there is none."""
    if model_dir is not None:
        return Path(model_dir)
    pinned = pinned_model_dir(settings)
    if pinned is not None:
        return pinned
    from medvlm.registry.registry import production_version

    production = production_version(settings=settings)
    if production is not None:
        return Path(production.model_dir)
    raise NotFoundError("no model given, none pinned (MEDVLM_MODEL_DIR) and no production model in the "
                        "registry; pass --model DIR or promote one with `medvlm models promote ID`")
