"""Stage checkpoints (trainable weights + optimizer + progress), written atomically so kill -9 is safe.

Only parameters a stage trains are stored: the rest are exactly the previous stage's saved bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn


def trainable_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """Trained parameters plus every buffer (BatchNorm running statistics change while training too)."""
    state = {n: p.detach().cpu().clone() for n, p in module.named_parameters() if p.requires_grad}
    state.update({f"buffer:{n}": b.detach().cpu().clone() for n, b in module.named_buffers()})
    return state


def state_digest(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(n for n in state if not n.startswith("buffer:")):  # buffers are per-rank statistics
        digest.update(name.encode())
        digest.update(state[name].float().numpy().tobytes())
    return digest.hexdigest()


def load_trainable(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    params: dict[str, torch.Tensor] = dict(module.named_parameters())
    params.update({f"buffer:{n}": b for n, b in module.named_buffers()})
    missing = [n for n in state if n not in params]
    if missing:
        raise RuntimeError(f"checkpoint holds parameters the model lacks, e.g. {missing[0]}")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value.to(params[name].device, params[name].dtype))


def atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load(path: Path) -> dict[str, Any] | None:
    return torch.load(path, weights_only=False) if path.is_file() else None


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None
