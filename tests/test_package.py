"""A non-editable install is one ``medvlm`` namespace that carries its UI and curricula.

The wheel is built from this tree and installed into a folder (``pip install --target``, no dependencies:
they are this environment's); a fresh process started outside the source tree imports ``medvlm`` from
there, migrates a new database through the installed schema parts and serves the UI pages, the static
assets and the ontology from the installed package data.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_SERVE_FROM_INSTALL = """
import sys
from pathlib import Path
import medvlm
assert Path(medvlm.__file__).is_relative_to(Path(sys.argv[1])), medvlm.__file__
from fastapi.testclient import TestClient
from medvlm.db import migrate
from medvlm.service.app import create_app
from medvlm.settings import get_settings
settings = get_settings()
migrate(settings.resolved_database_url)
client = TestClient(create_app(settings))
assert 'id="login-form"' in client.get("/").text
assert client.get("/ui/static/js/review.js").status_code == 200
assert "pleural_effusion" in client.get("/ui/ontology.json").json()["findings"]
print("served from", Path(medvlm.__file__).parent)
"""


@pytest.mark.slow
def test_wheel_installs_one_namespace_that_serves_the_ui(tmp_path: Path) -> None:
    wheels, target, source = tmp_path / "wheels", tmp_path / "site", tmp_path / "source"
    # A clean copy (links kept as links): setuptools' build/ folder would carry stale files into the wheel.
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "var", "test-artifacts", "__pycache__", "*.egg-info", ".*_cache"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    command = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)]
    build = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(wheels.glob("medvlm-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"medvlm", wheel.name.split("-py")[0] + ".dist-info"}
    for shipped in ("medvlm/ui/index.html", "medvlm/ui/static/js/api.js", "medvlm/curricula/ontology.yaml",
                    "medvlm/curricula/chest_xr_quick.yaml", "medvlm/service/app.py",
                    "medvlm/compliance/policy.py", "medvlm/service/db/migrations/0003_service.py"):
        assert shipped in names, f"the wheel lacks {shipped}"
    install = subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target), "MEDVLM_DATA_DIR": str(tmp_path / "var"),
           "HOME": str(tmp_path)}
    served = subprocess.run([sys.executable, "-c", _SERVE_FROM_INSTALL, str(target)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert served.returncode == 0, served.stdout[-2000:] + served.stderr[-3000:]
