"""A pixel-level linear probe: how far do a dataset's labels show in its raw model-input pixels?

A logistic regression on 64x64 model-input pixels (and a variant with two max-pooled white top-hat maps,
which respond to small bright blobs and lines: nodules, granulomas, tubes) is trained on the train split
and scored per finding (AUROC) on the test splits. A finding a linear probe on pixels reads near-perfectly
is rendered as a fixed stamp a model can memorise, not learnt as anatomy; one it cannot read at all may not
be visible. The same probe on the cross-patient split shows how much of that reading is tied to one body.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import white_tophat

from medvlm.dataset.manifest import ManifestRecord
from medvlm.findings import Presence

INPUT_SIZE = 128  # the film is read once at this size; raw pixels are its 2x2 means (64x64)
TOPHAT_SIZES = (5, 11)  # pixels at 128: about 10 and 30 mm on a 350 mm film
POOL = 8  # max-pool the top-hat maps to 16x16
MIN_POSITIVES = 3


@dataclass(frozen=True)
class FilmFeatures:
    raw: np.ndarray  # 4096
    tophat: np.ndarray  # 2 x 256


def film_features(image: np.ndarray) -> FilmFeatures:
    """``image``: the INPUT_SIZE x INPUT_SIZE model input of one film."""
    s = INPUT_SIZE
    raw = image.reshape(s // 2, 2, s // 2, 2).mean(axis=(1, 3))
    maps = [white_tophat(image, size=k) for k in TOPHAT_SIZES]
    pooled = [m.reshape(s // POOL, POOL, s // POOL, POOL).max(axis=(1, 3)).ravel() for m in maps]
    return FilmFeatures(raw.ravel().astype(np.float32), np.concatenate(pooled).astype(np.float32))


def labels_of(record: ManifestRecord) -> set[str]:
    return {f.label for f in record.findings if f.presence != Presence.ABSENT}


def _auroc(model: object, x: np.ndarray, y: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(set(y.tolist())) < 2:
        return None
    return float(roc_auc_score(y, model.predict_proba(x)[:, 1]))  # type: ignore[attr-defined]


def probe_aurocs(
    features: dict[str, list[FilmFeatures]],
    labels: dict[str, list[set[str]]],
    names: Sequence[str],
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """``{variant: {finding: {"<split>": auroc, "n_pos_<split>": count}}}`` trained on ``train``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def matrix(split: str, variant: str) -> np.ndarray:
        rows = features[split]
        if variant == "pixels":
            return np.stack([f.raw for f in rows])
        return np.stack([np.concatenate([f.raw, f.tophat]) for f in rows])

    eval_splits = [s for s in features if s != "train" and s != "validation"]
    out: dict[str, dict[str, dict[str, float | int | None]]] = {}
    for variant in ("pixels", "pixels+tophat"):
        x_train = matrix("train", variant)
        tests = {s: matrix(s, variant) for s in eval_splits}
        out[variant] = {}
        for name in names:
            y = np.array([name in ls for ls in labels["train"]], dtype=int)
            if y.sum() < MIN_POSITIVES or (len(y) - y.sum()) < MIN_POSITIVES:
                continue
            progress(f"{variant}: {name}")
            model = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=2000))
            model.fit(x_train, y)
            row: dict[str, float | int | None] = {"n_pos_train": int(y.sum())}
            for split, x in tests.items():
                y_test = np.array([name in ls for ls in labels[split]], dtype=int)
                row[split] = _auroc(model, x, y_test)
                row[f"n_pos_{split}"] = int(y_test.sum())
            out[variant][name] = row
    return out
