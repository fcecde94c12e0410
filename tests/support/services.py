"""Real external servers for tests: skip cleanly without them, fail when ``MEDVLM_REQUIRE_SERVICES=1``."""

from __future__ import annotations

import os
import shutil

import pytest


def services_required() -> bool:
    return os.environ.get("MEDVLM_REQUIRE_SERVICES", "") == "1"


def missing_service(what: str) -> None:
    """Skip (developer machine without it) or fail (CI, where it must be installed)."""
    message = f"{what} is not available on this machine"
    if services_required():
        pytest.fail(f"{message}, and MEDVLM_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(message)


def find_executable(name: str, *extra_dirs: str) -> str | None:
    for directory in extra_dirs:
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which(name)
