"""The one order of model resolution: explicit argument, then the pin, then the production version."""

from __future__ import annotations

from pathlib import Path

import pytest

from medvlm.errors import NotFoundError
from medvlm.registry import promote, register_version
from medvlm.registry.resolve import resolve_model_dir
from medvlm.settings import Settings
from tests.medvlm.registry.conftest import CardFactory


@pytest.mark.parametrize(
    ("explicit", "pin", "production", "expected"),
    [
        ("explicit", "pin", True, "explicit"),
        (None, "pin", True, "pin"),  # a pin wins over the registry (serve, draft and eval alike)
        (None, None, True, "production"),
        (None, None, False, None),
    ],
)
def test_resolution_order(
    settings: Settings, model_dir_factory: CardFactory, tmp_path: Path,
    explicit: str | None, pin: str | None, production: bool, expected: str | None,
) -> None:
    if production:
        register_version(model_dir_factory("production"))
        promote("production")
    settings = settings.model_copy(update={"model_dir": tmp_path / pin if pin else None})
    argument = tmp_path / explicit if explicit else None
    if expected is None:
        with pytest.raises(NotFoundError, match="MEDVLM_MODEL_DIR"):
            resolve_model_dir(argument, settings)
        return
    resolved = resolve_model_dir(argument, settings)
    assert resolved.name == expected
