"""Checkpoints that ship their own Python (``auto_map``): refused unless the site reviewed that exact code.

transformers runs such code on load (``trust_remote_code``). A site that has read a checkpoint's ``*.py``
files adds their digest (``code_digest``) to ``MEDVLM_TRUSTED_REMOTE_CODE``; changed code has another digest
and is refused again. Code that lives in another repository (``repo--module.Class``) would be downloaded
and is always refused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from medvlm.errors import ConfigError

_CONFIGS = ("config.json", "processor_config.json", "preprocessor_config.json", "tokenizer_config.json")


def auto_map_entries(directory: Path) -> list[str]:
    """Every class reference in the checkpoint's ``auto_map`` sections (empty: no custom code)."""
    entries: list[str] = []
    for name in _CONFIGS:
        path = directory / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
        mapping = data.get("auto_map") if isinstance(data, dict) else None
        for value in (mapping or {}).values():
            entries += [str(v) for v in (value if isinstance(value, list) else [value]) if v]
    return entries


def code_digest(directory: Path) -> str:
    """sha256 over the checkpoint's Python files (names and contents, in name order)."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def check_remote_code(directory: Path, allowed: list[str]) -> bool:
    """True when the checkpoint needs its own code and it is allowed; False when it needs none.

    Raises ``ConfigError`` naming the digest to review when the code is not on the allow-list."""
    entries = auto_map_entries(directory)
    if not entries:
        return False
    remote = sorted({e for e in entries if "--" in e})
    if remote:
        raise ConfigError(
            f"{directory} refers to code in another repository ({', '.join(remote)}), which would be "
            "downloaded; copy that code into the checkpoint folder and review it"
        )
    digest = code_digest(directory)
    if digest not in {a.strip().lower() for a in allowed}:
        files = ", ".join(p.name for p in sorted(directory.glob("*.py"))) or "none"
        raise ConfigError(
            f"{directory} needs its own Python code ({files}); it runs only after review: add its digest "
            f"{digest} to MEDVLM_TRUSTED_REMOTE_CODE (a JSON list) once the code has been read"
        )
    return True
