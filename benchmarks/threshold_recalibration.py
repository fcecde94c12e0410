"""What re-tuning the presence thresholds on N reviewed studies of a new population buys.

Run: PYTHONPATH=. .venv/bin/python benchmarks/threshold_recalibration.py EVAL_DIR MODEL_DIR [--n N ...]
EVAL_DIR is a `medvlm eval --out` folder (its predictions.jsonl: each study's finding probabilities and
truth), typically of the cross-patient split: films of anatomy the thresholds never saw. For each N, N studies
drawn at random stand for the first reviews at a new site; each finding's threshold is re-tuned on them with
training's own rule (`finding_threshold`, with the encoder stage's settings from --curriculum), and
the thresholded findings (what the findings-to-template baseline states, not read back through the labeler)
are scored on the remaining studies against the model's shipped thresholds on the same remainder. Prints
CE-F1, hallucinated findings per draft and recall (mean and 10th-90th percentile over the draws) and stated
vs true counts of the findings most over-called. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from medvlm.curriculum.loader import load_curriculum
from medvlm.evaluation.classification import known_only
from medvlm.evaluation.clinical import clinical_scores, positive_labels
from medvlm.evaluation.compare import PREDICTIONS
from medvlm.evaluation.scoring import known_matrix, truth_matrix
from medvlm.findings import NO_FINDING, Finding
from medvlm.model.bundle import CONFIG_FILE
from medvlm.model.configuration import BundleConfig
from medvlm.training.stage_metrics import finding_threshold

SHOWN = ("pleural_effusion", "lung_opacity", "cardiomegaly", "atelectasis")


def _stated(probs: np.ndarray, names: list[str], thresholds: dict[str, float]) -> list[frozenset[str]]:
    return [frozenset(n for j, n in enumerate(names) if row[j] >= thresholds[n]) for row in probs]


def _scores(probs: np.ndarray, true: list[frozenset[str]], names: list[str], thresholds: dict[str, float]
            ) -> tuple[float, float, float]:
    s = clinical_scores(_stated(probs, names, thresholds), true)
    return s.ce_f1, s.hallucination_rate, s.ce_recall


def _retuned(probs: np.ndarray, truth: np.ndarray, known: np.ndarray, names: list[str], stage: Any
             ) -> dict[str, float]:
    """Each finding's cut as the encoder ``stage`` tunes it (its F-beta, positives floor and floor cut)."""
    rule = (stage.threshold_beta, stage.threshold_min_positives, stage.sparse_threshold)
    return {n: finding_threshold(*known_only(truth[:, j], probs[:, j], known[:, j]), *rule)
            for j, n in enumerate(names)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("model", type=Path)
    parser.add_argument("--n", type=int, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--curriculum", type=Path, default=Path("curricula/chest_xr.yaml"))
    args = parser.parse_args()
    stage = next(s for s in load_curriculum(args.curriculum).curriculum.stages if s.kind == "encoder")
    config = BundleConfig.from_dict(json.loads((args.model / CONFIG_FILE).read_text()))
    lines = (args.eval_dir / PREDICTIONS).read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    names = [n for n in rows[0]["probabilities"] if n != NO_FINDING]
    truth_findings = [[Finding.from_dict(f) for f in r["truth"]] for r in rows]
    truth, known = truth_matrix(names, truth_findings), known_matrix(names, truth_findings) > 0
    probs = np.array([[r["probabilities"][n] for n in names] for r in rows])
    shipped = {n: config.threshold(n) for n in names}
    true = [positive_labels(f) for f in truth_findings]  # as `medvlm eval` scores drafts: uncertain counts

    f1, halluc, recall = _scores(probs, true, names, shipped)
    print(f"{len(rows)} studies, shipped thresholds: CE-F1 {f1:.3f}, hallucinated per draft {halluc:.2f}, "
          f"recall {recall:.3f}")
    stated = _stated(probs, names, shipped)
    counts = [f"{n} {sum(n in s for s in stated)} vs {sum(n in s for s in true)}"
              for n in SHOWN if n in names]
    print("stated vs true: " + ", ".join(counts))
    rng = np.random.default_rng(0)
    for n in args.n:
        runs = []
        for _ in range(args.draws):
            order = rng.permutation(len(rows))
            cal, rest = order[:n], order[n:]
            tuned = _retuned(probs[cal], truth[cal], known[cal], names, stage)
            rest_true = [true[i] for i in rest]
            runs.append(_scores(probs[rest], rest_true, names, shipped)
                        + _scores(probs[rest], rest_true, names, tuned))
        table = np.array(runs)
        mean, low, high = table.mean(0), np.percentile(table, 10, 0), np.percentile(table, 90, 0)
        print(f"N={n:4d} reviewed: shipped CE-F1 {mean[0]:.3f} halluc {mean[1]:.2f} recall {mean[2]:.3f} | "
              f"re-tuned CE-F1 {mean[3]:.3f} [{low[3]:.3f}-{high[3]:.3f}] halluc {mean[4]:.2f} "
              f"[{low[4]:.2f}-{high[4]:.2f}] recall {mean[5]:.3f}")


if __name__ == "__main__":
    main()
