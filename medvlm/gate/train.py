"""Train the intended-use image check and measure it: ``python -m medvlm.gate.train [--realfilm DIR]``.

Writes ``medvlm/gate/weights.json`` (or ``--out``) with the error rates it measured on what it did not
train on: the real films of test buckets 5-6, fresh synthetic films, and the pydicom-data files (the
gate's test set: never trained on), by the image check alone and by the whole gate.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
from pathlib import Path

import numpy as np

from medvlm.gate import samples
from medvlm.gate.classifier import CLASSES, WEIGHTS_PATH, GateClassifier
from medvlm.gate.features import image_features

ACCEPT_TRAIN_FRONTAL = 0.995  # the threshold keeps this share of training frontal films
MAX_THRESHOLD = 0.35  # never ask more than this P(frontal): a real film unlike the training ones still passes


def training_set(realfilm: Path | None, ct_root: Path | None, seed: int, n_synthetic: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, np.ndarray]] = []
    films: list[np.ndarray] = []
    if realfilm is not None and (realfilm / "labels.csv").is_file():
        for kind, image, _ in samples.realfilm(realfilm, samples.TRAIN_BUCKETS):
            rows.append((kind, image))
            if kind == "frontal":
                films.append(image)
                rows.append((kind, samples.framed(image, rng)))
            else:  # few laterals: add their mirror image (a left lateral for a right one)
                rows.append((kind, image[:, ::-1]))
    synthetic = list(samples.synthetic_films(n_synthetic, seed))
    rows += [("frontal", f) for f in synthetic]
    # synthetic laterals (the builder's --laterals films): the real laterals are few
    rows += [("lateral", f) for f in samples.synthetic_films(n_synthetic // 3, seed, "lateral")]
    films += synthetic
    rows += [("other", i) for i in samples.pydicom_test_images()]
    if ct_root is not None and ct_root.is_dir():
        rows += [("other", i) for i in samples.ct_slices(ct_root, seed=seed)]
    rows += [("other", i) for i in samples.photographs()]
    rows += [("other", samples.limb(rng)) for _ in range(120)]
    rows += [("other", samples.patterns(rng)) for _ in range(240)]
    picked = [films[i] for i in rng.choice(len(films), size=min(len(films), 150), replace=False)]
    rows += [("other", i) for i in samples.altered_films(picked, rng)]
    x = np.stack([image_features(image) for _, image in rows])
    y = np.array([CLASSES.index(kind) for kind, _ in rows])
    return x, y


def fit(x: np.ndarray, y: np.ndarray, c: float = 0.1) -> GateClassifier:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    model.fit((x - mean) / scale, y)
    clf = GateClassifier(mean.astype(np.float32), scale.astype(np.float32), model.coef_.astype(np.float32),
                         model.intercept_.astype(np.float32), CLASSES, 0.5, {})
    p_frontal = np.array([_p_frontal(clf, row) for row in x[y == 0]])
    threshold = min(MAX_THRESHOLD, float(np.quantile(p_frontal, 1 - ACCEPT_TRAIN_FRONTAL)))
    return GateClassifier(clf.mean, clf.scale, clf.coef, clf.intercept, CLASSES, round(threshold, 4), {})


def _p_frontal(clf: GateClassifier, features: np.ndarray) -> float:
    logits = clf.coef @ ((features - clf.mean) / clf.scale) + clf.intercept
    p = np.exp(logits - logits.max())
    return float(p[0] / p.sum())


def pydicom_data_files() -> list[Path]:
    try:
        dist = importlib.metadata.distribution("pydicom-data")
    except importlib.metadata.PackageNotFoundError:
        return []
    return sorted(Path(str(dist.locate_file(f))) for f in dist.files or [] if str(f).endswith(".dcm"))


def measure(clf: GateClassifier, realfilm: Path | None, seed: int) -> dict:
    """Error rates on images the classifier never saw."""
    from medvlm.gate import classifier as module
    from medvlm.gate.policy import assess_image, judge_pixels

    module.load_classifier.cache_clear()
    original = module.load_classifier
    module.load_classifier = lambda path=WEIGHTS_PATH: clf  # type: ignore[assignment]  # measure this one
    try:
        metrics: dict = {}
        if realfilm is not None and (realfilm / "labels.csv").is_file():
            test = list(samples.realfilm(realfilm, samples.TEST_BUCKETS))
            frontal = [judge_pixels(i).kind for k, i, _ in test if k == "frontal"]
            lateral = [judge_pixels(i).kind for k, i, _ in test if k == "lateral"]
            metrics["realfilm_test.frontal_accepted"] = _share(frontal, "frontal")
            metrics["realfilm_test.n_frontal"] = len(frontal)
            metrics["realfilm_test.lateral_recognised"] = _share(lateral, "lateral")
            metrics["realfilm_test.lateral_drafted"] = _share(lateral, "frontal")
            metrics["realfilm_test.n_lateral"] = len(lateral)
        synthetic = [judge_pixels(f).kind for f in samples.synthetic_films(60, seed + 1)]
        metrics["synthetic_test.frontal_accepted"] = _share(synthetic, "frontal")
        laterals = [judge_pixels(f, "LL").kind for f in samples.synthetic_films(30, seed + 1, "lateral")]
        metrics["synthetic_test.lateral_recognised"] = _share(laterals, "lateral")
        files = pydicom_data_files()
        negatives = [f for f in files if not f.name.startswith("RG1_")]  # RG1: the real frontal chest CR
        whole = [assess_image(f) for f in negatives]
        metrics["pydicom_data.n_non_chest"] = len(negatives)
        metrics["pydicom_data.non_chest_accepted_by_gate"] = sum(v.kind == "frontal" for v in whole)
        image_only = [_image_only(f) for f in negatives]
        decoded = [k for k in image_only if k is not None]
        metrics["pydicom_data.non_chest_decoded"] = len(decoded)
        metrics["pydicom_data.non_chest_accepted_by_image_check_alone"] = sum(k == "frontal" for k in decoded)
        metrics["pydicom_data.rg1_accepted"] = sum(assess_image(f).kind == "frontal"
                                                   for f in files if f.name.startswith("RG1_"))
        return metrics
    finally:
        module.load_classifier = original  # type: ignore[assignment]


def _image_only(path: Path) -> str | None:
    import warnings

    import pydicom

    from medvlm.dicom.pixels import display_frame
    from medvlm.gate.policy import judge_pixels

    warnings.simplefilter("ignore")
    try:
        image = display_frame(pydicom.dcmread(path, force=True), 0)
    except Exception:
        return None
    return judge_pixels(image.mean(axis=-1) if image.ndim == 3 else image).kind


def _share(kinds: list[str], wanted: str) -> float | None:
    return round(sum(k == wanted for k in kinds) / len(kinds), 4) if kinds else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realfilm", type=Path, default=Path("../shared/realfilm"))
    parser.add_argument("--ct", type=Path, default=Path("../shared/ct"))
    parser.add_argument("--synthetic", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    args = parser.parse_args(argv)
    x, y = training_set(args.realfilm, args.ct, args.seed, args.synthetic)
    clf = fit(x, y)
    counts = {name: int((y == i).sum()) for i, name in enumerate(CLASSES)}
    metrics = {"train.counts": counts, **measure(clf, args.realfilm, args.seed)}
    clf = GateClassifier(clf.mean, clf.scale, clf.coef, clf.intercept, CLASSES, clf.frontal_threshold,
                         metrics)
    args.out.write_text(json.dumps(clf.to_json(), separators=(",", ":")))
    print(json.dumps(metrics, indent=2))
    size_kb = args.out.stat().st_size // 1024
    print(f"wrote {args.out} ({size_kb} KB), frontal threshold {clf.frontal_threshold}")


if __name__ == "__main__":
    main()
