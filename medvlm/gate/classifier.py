"""The image check: multinomial logistic regression on ``features.image_features``, numpy only at run time.

Weights live beside this file (``weights.json``, a few tens of KB), written by ``medvlm.gate.train``;
they are data shipped in the package, never downloaded. Classes: ``frontal`` (a frontal chest
radiograph, PA or AP), ``lateral`` (a lateral chest radiograph), ``other`` (anything else).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from medvlm.errors import ConfigError
from medvlm.gate.features import FEATURES_VERSION, image_features

WEIGHTS_PATH = Path(__file__).with_name("weights.json")
CLASSES = ("frontal", "lateral", "other")


@dataclass(frozen=True)
class GateClassifier:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (classes, features)
    intercept: np.ndarray
    classes: tuple[str, ...]
    frontal_threshold: float  # P(frontal) needed to accept, chosen on training films
    metrics: dict

    def probabilities(self, image: np.ndarray) -> dict[str, float]:
        x = (image_features(image) - self.mean) / self.scale
        logits = self.coef @ x + self.intercept
        p = np.exp(logits - logits.max())
        p /= p.sum()
        return {name: float(v) for name, v in zip(self.classes, p, strict=True)}

    def to_json(self) -> dict:
        return {"features_version": FEATURES_VERSION, "classes": list(self.classes),
                "frontal_threshold": self.frontal_threshold, "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept.tolist(), "metrics": self.metrics}


def parse_weights(data: dict, source: str) -> GateClassifier:
    if data.get("features_version") != FEATURES_VERSION:
        raise ConfigError(f"{source}: gate weights for features version {data.get('features_version')}, "
                          f"expected {FEATURES_VERSION}; retrain with `python -m medvlm.gate.train`")
    try:
        clf = GateClassifier(np.asarray(data["mean"], np.float32), np.asarray(data["scale"], np.float32),
                             np.asarray(data["coef"], np.float32), np.asarray(data["intercept"], np.float32),
                             tuple(data["classes"]), float(data["frontal_threshold"]),
                             data.get("metrics", {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: malformed gate weights ({exc})") from None
    if clf.classes != CLASSES or clf.coef.shape != (len(CLASSES), clf.mean.size):
        raise ConfigError(f"{source}: gate weights have classes {clf.classes} and shape {clf.coef.shape}")
    return clf


@lru_cache(maxsize=2)
def load_classifier(path: Path = WEIGHTS_PATH) -> GateClassifier:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"no intended-use gate weights at {path}; "
                          "run `python -m medvlm.gate.train`") from None
    return parse_weights(data, str(path))
