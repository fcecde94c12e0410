"""AdaBN on the findings head: its BatchNorm statistics refitted on a new patient's (or site's) own films.

Run: PYTHONPATH=. .venv/bin/python benchmarks/head_norm_refit.py MODEL_DIR DATA_DIR [--split SPLIT]
     PYTHONPATH=. .venv/bin/python benchmarks/head_norm_refit.py MODEL_DIR --real ../shared/realfilm

The head standardises its pooled cell features with running statistics of the training films. Films of an
unseen patient or site sit elsewhere (measured here in running standard deviations), and refitting those
statistics needs no labels. Cross-fitted: the statistics of one random half of the films score the other
half, so no film is scored with statistics that saw it. Synthetic splits: supported macro-AUROC (findings
with >= 10 positives) before and after, with a paired bootstrap interval; real films: the AUROCs of the
labelled subsets. Also prints how far the mean probability of each finding moves (the thresholds were tuned
on the training statistics). Frontal films only; asserts nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from medvlm.findings import Presence
from medvlm.model.bundle import ModelBundle, load_bundle
from medvlm.training.images import load_image
from medvlm.training.manifest import read_records

BATCH = 64
RESAMPLES = 500


def tower(bundle: ModelBundle, films: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    batches = [films[i : i + BATCH] for i in range(0, len(films), BATCH)]
    parts = [bundle.vision_features(bundle.pixel_values(batch)) for batch in batches]
    return torch.cat([t for t, _ in parts]), torch.cat([d for _, d in parts])


def cross_fitted(bundle: ModelBundle, films: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities with the training statistics, and with statistics refitted on the other half."""
    head = bundle.head
    norm = head.body[0] if isinstance(head.body, torch.nn.Sequential) else head.body  # a head without hidden
    with torch.no_grad():
        tokens, detail = tower(bundle, films)
        cells = head.cells(tokens)
        saved = norm.running_mean.clone(), norm.running_var.clone()
        shift = ((cells.mean(0) - saved[0]) / saved[1].sqrt()).abs().mean()
        print(f"{len(films)} films: cell features' mean {float(shift):.3f} running SDs from the training "
              f"mean, variance ratio {float((cells.var(0) / saved[1]).mean()):.3f}")

        def probabilities(rows: np.ndarray) -> np.ndarray:
            return torch.sigmoid(head.presence_logits(head(tokens[rows], detail[rows]))).numpy()

        n = len(films)
        order = np.random.default_rng(0).permutation(n)
        halves = (order[: n // 2], order[n // 2 :])
        before, after = probabilities(np.arange(n)), np.zeros((n, len(head.slots)), dtype=np.float32)
        for fit, score in ((halves[0], halves[1]), (halves[1], halves[0])):
            norm.running_mean.copy_(cells[fit].mean(0))
            norm.running_var.copy_(cells[fit].var(0, unbiased=False))
            after[score] = probabilities(score)
        norm.running_mean.copy_(saved[0])
        norm.running_var.copy_(saved[1])
    return before, after


def synthetic(bundle: ModelBundle, data: Path, split: str) -> None:
    records = [r for r in read_records(data) if r.split == split]
    films = torch.stack([load_image(r.files[0], bundle.image_size) for r in records])
    before, after = cross_fitted(bundle, films)
    truth = {s.name: np.array([any(f.label == s.name and f.presence != Presence.ABSENT for f in r.findings)
                               for r in records]) for s in bundle.head.slots}
    supported = [name for name, y in truth.items() if y.sum() >= 10]
    column = {name: bundle.names.index(name) for name in supported}

    def macro(p: np.ndarray, rows: np.ndarray) -> float:
        return float(np.mean([roc_auc_score(truth[n][rows], p[rows, column[n]]) for n in supported]))

    everything = np.arange(len(records))
    rng = np.random.default_rng(1)
    deltas = []
    for _ in range(RESAMPLES):
        rows = rng.integers(0, len(records), len(records))
        if all(0 < truth[n][rows].sum() < len(rows) for n in supported):
            deltas.append(macro(after, rows) - macro(before, rows))
    print(f"{split}: supported macro-AUROC ({len(supported)} findings) {macro(before, everything):.3f} -> "
          f"{macro(after, everything):.3f}, {macro(after, everything) - macro(before, everything):+.3f} "
          f"[{np.percentile(deltas, 2.5):+.3f}, {np.percentile(deltas, 97.5):+.3f}]")
    print("  finding              AUROC before -> after; films called at the model's thresholds before -> "
          "after (true positives), of them correct")
    for name in supported:
        j, y = column[name], truth[name]
        b, a = (roc_auc_score(y, p[:, j]) for p in (before, after))
        cut = bundle.config.threshold(name)
        called = [(p[:, j] >= cut) for p in (before, after)]
        print(f"  {name:20s} {b:.3f} -> {a:.3f}; called {called[0].sum()} -> {called[1].sum()} ({y.sum()}), "
              f"correct {(called[0] & y).sum()} -> {(called[1] & y).sum()}")
    moved(bundle, before, after)


def real(bundle: ModelBundle, folder: Path) -> None:
    from medvlm.evaluation.real_films import PROXIES, gate_films, read_films

    rows = gate_films(read_films(folder), bundle.image_size)[1]
    films = [film for film, _ in rows]
    before, after = cross_fitted(bundle, torch.stack([image for _, image in rows]))
    for label in sorted({k for f in films for k in f.labels}):
        finding = PROXIES.get(label, label)
        if finding not in bundle.names:
            continue
        rows = [i for i, f in enumerate(films) if label in f.labels]
        y = [films[i].labels[label] for i in rows]
        if 0 < sum(y) < len(y):
            j = bundle.names.index(finding)
            b, a = roc_auc_score(y, before[rows, j]), roc_auc_score(y, after[rows, j])
            print(f"  {label:20s} ({sum(y)} vs {len(y) - sum(y)}) AUROC {b:.3f} -> {a:.3f}")
    moved(bundle, before, after)
    calls = []
    for j, name in enumerate(bundle.names):
        cut = bundle.config.threshold(name)
        b, a = int((before[:, j] >= cut).sum()), int((after[:, j] >= cut).sum())
        if b or a:
            calls.append(f"{name} {b} -> {a}")
    print(f"  films called at the model's thresholds (of {len(films)}): " + ", ".join(calls))


def moved(bundle: ModelBundle, before: np.ndarray, after: np.ndarray) -> None:
    shifts = {n: float(after[:, j].mean() - before[:, j].mean()) for j, n in enumerate(bundle.names)}
    listed = ", ".join(f"{n} {v:+.3f}" for n, v in shifts.items() if abs(v) >= 0.01)
    print(f"  mean probability moved by: {listed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path, nargs="?")
    parser.add_argument("--split", default="test_cross_patient")
    parser.add_argument("--real", type=Path)
    args = parser.parse_args()
    bundle = load_bundle(args.model)
    bundle.eval()
    if args.real is not None:
        real(bundle, args.real)
    elif args.data is not None:
        synthetic(bundle, args.data, args.split)
    else:
        parser.error("give DATA_DIR or --real DIR")


if __name__ == "__main__":
    main()
