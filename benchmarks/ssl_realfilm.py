"""Real-film checks of models trained with and without the self-supervised stage (issue #26, item 4).

    python benchmarks/ssl_realfilm.py --real ../shared/realfilm NAME=MODEL_DIR [NAME=MODEL_DIR ...]

Per model, on the films the intended-use gate accepts as frontal (as ``medvlm eval --real`` scores them):
- lung-opacity AUROC on the expert-scored films (mean opacity score > 0 vs = 0) and the Spearman rank
  correlation of P(lung_opacity) with that score;
- support-device AUROC, intubated films (``intubation_present`` = Y) against every other accepted film
  (those include unlabelled tubes and lines, so this is a floor), and against the films marked N only;
- the share of films drafted normal (no finding at or above its threshold).
Each with its n. The realfilm films are for internal evaluation only: print figures, never save weights
or films anywhere public.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def _auroc(truth: list[int], scores: list[float]) -> float | None:
    from medvlm.evaluation.classification import auroc

    return auroc(np.asarray(truth), np.asarray(scores)) if truth else None


def _spearman(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3:
        return None
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def accepted_films(real_dir: Path, size: int) -> tuple[list[str], list]:
    """Ids and model inputs of the films the gate accepts as frontal (computed once for every model)."""
    from medvlm.evaluation.real_films import _dataset, read_films
    from medvlm.gate.policy import assess_image
    from medvlm.imaging.transforms import model_input

    ids, images = [], []
    for film in read_films(real_dir):
        ds = _dataset(film)
        if assess_image(ds).kind == "frontal":
            ids.append(film.name)
            images.append(model_input(ds, size))
    return ids, images


Films = dict[int, tuple[list[str], list]]  # image size -> (ids, model inputs) of the accepted films


def score_model(model_dir: Path, real_dir: Path, films: Films) -> dict[str, object]:
    import torch

    from medvlm.model import load_bundle

    rows = {r["id"]: r for r in csv.DictReader((real_dir / "labels.csv").open(newline=""))}
    bundle = load_bundle(model_dir)
    if bundle.image_size not in films:
        films[bundle.image_size] = accepted_films(real_dir, bundle.image_size)
    ids, images = films[bundle.image_size]
    opacity, device, normal = [], [], 0
    with torch.no_grad():
        for start in range(0, len(images), 16):
            for findings in bundle.predict_findings(torch.stack(images[start : start + 16])):
                by = {f.label: f for f in findings}
                opacity.append(float(by["lung_opacity"].probability or 0.0))
                device.append(float(by["support_device"].probability or 0.0))
                normal += not any(f.presence != "absent" and f.label != "no_finding" for f in findings)
    scored = [(float(rows[i]["opacity_score_mean"]), p) for i, p in zip(ids, opacity, strict=True)
              if rows[i].get("opacity_score_mean")]
    intub = [rows[i].get("intubation_present", "") for i in ids]
    truth_all = [int(v == "Y") for v in intub]
    marked = [(int(v == "Y"), p) for v, p in zip(intub, device, strict=True) if v in ("Y", "N")]
    return {
        "accepted_frontal": len(ids),
        "opacity_auroc_expert": _auroc([int(s > 0) for s, _ in scored], [p for _, p in scored]),
        "opacity_n": f"{sum(s > 0 for s, _ in scored)}+/{sum(s == 0 for s, _ in scored)}-",
        "opacity_spearman_expert": _spearman([s for s, _ in scored], [p for _, p in scored]),
        "device_auroc_vs_all": _auroc(truth_all, device),
        "device_n_vs_all": f"{sum(truth_all)}+/{len(truth_all) - sum(truth_all)}-",
        "device_auroc_vs_marked_n": _auroc([t for t, _ in marked], [p for _, p in marked]),
        "device_n_vs_marked_n": f"{sum(t for t, _ in marked)}+/{sum(1 - t for t, _ in marked)}-",
        "share_drafted_normal": round(normal / len(ids), 4) if ids else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("models", nargs="+", help="NAME=MODEL_DIR")
    args = parser.parse_args()
    results: dict[str, dict[str, object]] = {}
    films: Films = {}
    for item in args.models:
        name, _, directory = item.partition("=")
        results[name] = score_model(Path(directory), args.real, films)
    keys = list(next(iter(results.values())))
    print("| measure | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    for key in keys:
        cells = [v if not isinstance(v := r[key], float) else f"{v:.3f}" for r in results.values()]
        print(f"| {key} | " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
