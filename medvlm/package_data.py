"""Where the data shipped inside the ``medvlm`` package lives, from a source checkout or an installed wheel.

The customer's top-level folders ``ui/`` and ``curricula/`` are reached through ``medvlm/ui`` and
``medvlm/curricula`` (symbolic links in the source tree, real folders in a built wheel), so code never
walks up out of the package with ``Path(__file__).parents``.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).parent
UI_DIR = PACKAGE_DIR / "ui"
CURRICULA_DIR = PACKAGE_DIR / "curricula"
ONTOLOGY_PATH = CURRICULA_DIR / "ontology.yaml"
QUICK_CURRICULUM = CURRICULA_DIR / "chest_xr_quick.yaml"
CORRECTIONS_CURRICULUM = CURRICULA_DIR / "corrections.yaml"
