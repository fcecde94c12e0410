"""Promotion floors: absolute minimums (``curricula/promotion_floors.yaml``) every production model meets.

The no-regression gate (``gate.py``) compares a candidate with the model in production, so the first model
always passed it; the floors do not depend on what came before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from medvlm.errors import ConfigError
from medvlm.package_data import CURRICULA_DIR
from medvlm.registry.gate import metric_number

FLOORS_PATH = CURRICULA_DIR / "promotion_floors.yaml"


@dataclass(frozen=True)
class Floor:
    metric: str
    minimum: float | None = None
    maximum: float | None = None
    own_text: str | None = None  # preferred key when present: the model's own text, before the guard
    when_measured: bool = False

    def describe(self) -> str:
        bound = f">= {self.minimum}" if self.minimum is not None else f"<= {self.maximum}"
        return f"{self.own_text or self.metric} {bound}"


def load_floors(path: Path | None = None) -> list[Floor]:
    path = Path(path or FLOORS_PATH)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no promotion floors file {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    items = data.get("floors") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{path}: expected a non-empty list under 'floors'")
    floors = []
    for i, item in enumerate(items):
        where = f"{path}: floors[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("metric"), str):
            raise ConfigError(f"{where}: expected a mapping with a 'metric' name")
        unknown = set(item) - {"metric", "min", "max", "own_text", "when_measured"}
        if unknown:
            raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
        low, high = item.get("min"), item.get("max")
        if (low is None) == (high is None) or metric_number(low if low is not None else high) is None:
            raise ConfigError(f"{where} ({item['metric']}): give exactly one number, 'min' or 'max'")
        floors.append(Floor(item["metric"], metric_number(low), metric_number(high), item.get("own_text"),
                            bool(item.get("when_measured", False))))
    return floors


def floor_reasons(metrics: Mapping[str, Any], floors: list[Floor]) -> list[str]:
    """Why ``metrics`` fall below the floors (empty: they meet them). A metric that is missing is a
    reason (it cannot be shown to meet the floor), unless its floor applies only when measured."""
    reasons = []
    for floor in floors:
        key = floor.own_text if floor.own_text and metric_number(metrics.get(floor.own_text)) is not None \
            else floor.metric
        value = metric_number(metrics.get(key))
        if value is None:
            if not floor.when_measured:
                reasons.append(f"{floor.metric} not measured (floor {floor.describe()})")
            continue
        if floor.minimum is not None and value < floor.minimum:
            reasons.append(f"{key} {value:.4f} below the floor {floor.minimum}")
        if floor.maximum is not None and value > floor.maximum:
            reasons.append(f"{key} {value:.4f} above the ceiling {floor.maximum}")
    return reasons
