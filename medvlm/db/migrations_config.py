"""The Alembic configuration for the whole schema, assembled from every registered part.

Each layer's ``schema`` module registers under the ``medvlm.schema`` entry point group (``pyproject.toml``)
and exposes ``MIGRATIONS_DIR``; loading it also registers its tables. The environment script and the
template stay here, in the library, which every part builds on.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from pathlib import Path

from sqlalchemy.engine import Engine

from medvlm.errors import ConfigError

SCRIPT_DIR = Path(__file__).parent / "migrations"
ENTRY_POINT_GROUP = "medvlm.schema"


def migration_folders() -> list[Path]:
    """The migration folder of every registered schema part (importing each registers its tables)."""
    folders = [Path(point.load()) for point in entry_points(group=ENTRY_POINT_GROUP)]
    if not folders:
        raise ConfigError(
            f"no schema parts registered under the {ENTRY_POINT_GROUP!r} entry points: "
            "install the package (pip install -e .) so that its metadata exists"
        )
    return sorted(folders)


def alembic_config(engine: Engine):  # type: ignore[no-untyped-def]  # alembic.config.Config, imported late
    """An Alembic ``Config`` that runs against ``engine`` over every part's migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(f) for f in migration_folders()))
    config.attributes["engine"] = engine
    return config
