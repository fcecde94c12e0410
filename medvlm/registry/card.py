"""Reading and checking ``model_card.json``, the hand-off from training to the registry."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medvlm.errors import ConfigError, NotFoundError

CARD_NAME = "model_card.json"
REQUIRED = ("version", "preset", "config", "metrics", "created_at")
PROVENANCE = (
    "parent", "preset", "curriculum", "curriculum_sha256", "data_manifest_sha256", "config", "stages",
)


@dataclass(frozen=True)
class ModelCard:
    data: dict[str, Any]
    sha256: str
    path: Path

    @property
    def version(self) -> str:
        return str(self.data["version"])

    @property
    def created_at(self) -> datetime:
        return parse_time(self.data["created_at"], self.path)


def parse_time(value: Any, where: Path) -> datetime:
    """ISO-8601 -> aware UTC (a time without offset is taken as UTC)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{where}: created_at must be ISO-8601, got {value!r}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def read_card(model_dir: Path) -> ModelCard:
    """The model card of ``model_dir``; a missing directory/card is NotFoundError, a bad card ConfigError."""
    path = Path(model_dir) / CARD_NAME
    if not Path(model_dir).is_dir():
        raise NotFoundError(f"model directory {model_dir} does not exist")
    if not path.is_file():
        raise NotFoundError(f"{model_dir} holds no {CARD_NAME}; is it a directory written by `medvlm train`?")
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object, got {type(data).__name__}")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise ConfigError(f"{path} lacks {missing}; a model card needs {list(REQUIRED)}")
    if not isinstance(data["version"], str) or not data["version"].strip() or len(data["version"]) > 64:
        raise ConfigError(f"{path}: version must be a non-empty string of at most 64 characters")
    for key, kind in (("config", dict), ("metrics", dict), ("stages", list)):
        if key in data and not isinstance(data[key], kind):
            raise ConfigError(f"{path}: {key} must be a JSON {kind.__name__}, got {type(data[key]).__name__}")
    card = ModelCard(data=data, sha256=hashlib.sha256(raw).hexdigest(), path=path)
    _ = card.created_at  # validated now, not at promotion time
    return card
