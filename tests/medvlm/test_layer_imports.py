"""Layers point down (issue #18): nothing in the library or in compliance imports the service; only the
service itself and the composition root (``medvlm.cli``) do."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UPPER = ("medvlm.service", "service")
ALLOWED = ("medvlm/service/", "medvlm/cli/")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_nothing_below_the_service_imports_it() -> None:
    offenders = []
    for path in sorted((ROOT / "medvlm").rglob("*.py")) + sorted((ROOT / "compliance").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(ALLOWED) or path.is_symlink() or "medvlm/compliance/" in relative:
            continue
        if any(part in ("service", "ui") for part in path.relative_to(ROOT).parts[1:2]):
            continue  # the links medvlm/service and medvlm/ui lead into the service's own tree
        bad = [m for m in _imports(path) if m == UPPER[0] or m.startswith(UPPER[0] + ".")
               or m == UPPER[1] or m.startswith(UPPER[1] + ".")]
        if bad:
            offenders.append((relative, sorted(bad)))
    assert offenders == []


def test_the_listener_lives_in_the_service() -> None:
    assert not (ROOT / "medvlm" / "pacs" / "scp.py").exists()
    assert (ROOT / "service" / "dicom_listener" / "listener.py").is_file()
