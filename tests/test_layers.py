"""The layers point down only (import-linter's layers contract in pyproject.toml), and nothing under the
library reaches the service by a string import that the contract cannot see."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOWER_LAYERS = [
    p for p in (ROOT / "medvlm").iterdir() if p.name not in ("service", "cli") and not p.is_symlink()
]
LOWER_LAYERS.append(ROOT / "compliance")


def test_import_linter_layers_contract_is_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    proc = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " 0 broken" in proc.stdout


def test_no_string_import_of_the_service_below_it() -> None:
    """importlib / uvicorn "module:attr" strings are invisible to import-linter; none may name the service."""
    pattern = re.compile(r"[\"']medvlm\.service[.:]")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for base in LOWER_LAYERS
        for path in ([base] if base.is_file() else base.rglob("*.py"))
        if path.suffix == ".py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
