"""A promotion-floors policy for tests that promote untrained models to exercise something else.

The real floors (``curricula/promotion_floors.yaml``) refuse an untrained model, as they must; a test of the
drafting path or the evaluation CLI uses this site policy instead (``MEDVLM_PROMOTION_FLOORS``), which asks
only what such a model cannot lack.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medvlm.settings import get_settings

UNTRAINED_SITE = "floors:\n  - metric: real.gate_acceptance\n    min: 0.0\n    when_measured: true\n"


def allow_untrained_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "promotion_floors.yaml"
    path.write_text(UNTRAINED_SITE)
    monkeypatch.setenv("MEDVLM_PROMOTION_FLOORS", str(path))
    get_settings.cache_clear()
    return path
