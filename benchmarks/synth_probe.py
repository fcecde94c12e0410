"""Quick pixel linear probe: how well does a logistic regression on 64x64 raw pixels tell each finding?

A check that synthetic films do not give findings away by fixed signatures (issue #20: target AUROC <= 0.80
for each of the six below). Each film draws every probed finding independently (prevalence ``--p``) with a
random severity, side and certainty, plus some other findings, so a probe must find the finding among
others. Not the full ``medvlm data audit``; a few minutes on one core.

Run: PYTHONPATH=. .venv/bin/python benchmarks/synth_probe.py [--n 1500] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medvlm.findings import Finding, Laterality, Presence
from medvlm.synth.atlas import load_atlas
from medvlm.synth.compose import render_film

PROBED = {
    "cardiomegaly": [None, "borderline", "mild", "moderate", "severe"],
    "pleural_effusion": [None, "small", "moderate", "large"],
    "pulmonary_edema": [None, "mild", "moderate", "severe"],
    "hyperinflation": [None, "mild", "moderate", "severe"],
    "consolidation": [None, "mild", "moderate", "severe"],
    "lung_opacity": [None, "mild", "moderate", "severe"],
}
OTHERS = ["nodule", "calcified_granuloma", "atelectasis", "pneumothorax", "mass", "support_device"]
SIDES = [None, Laterality.LEFT, Laterality.RIGHT, Laterality.BILATERAL]


def sample_findings(rng: np.random.Generator, p: float) -> tuple[list[Finding], np.ndarray]:
    findings, labels = [], np.zeros(len(PROBED), int)
    for j, (label, severities) in enumerate(PROBED.items()):
        if rng.random() < p:
            labels[j] = 1
            side = (
                None
                if label in ("cardiomegaly", "pulmonary_edema", "hyperinflation")
                else SIDES[int(rng.integers(len(SIDES)))]
            )
            presence = Presence.UNCERTAIN if rng.random() < 0.15 else Presence.PRESENT
            findings.append(Finding(label, presence, side, severities[int(rng.integers(len(severities)))]))
    for label in OTHERS:
        if rng.random() < 0.08:
            findings.append(Finding(label, laterality=SIDES[1 + int(rng.integers(2))]))
    return findings, labels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--p", type=float, default=0.3)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    atlas = load_atlas(args.data_dir)
    rng = np.random.default_rng(0)
    x = np.zeros((args.n, args.size * args.size), np.float32)
    y = np.zeros((args.n, len(PROBED)), int)
    for i in range(args.n):
        findings, y[i] = sample_findings(rng, args.p)
        x[i] = render_film(findings, seed=10_000 + i, size=args.size, atlas=atlas).pixels.ravel() / 4095.0
    cut = int(0.7 * args.n)
    for j, label in enumerate(PROBED):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=3000))
        model.fit(x[:cut], y[:cut, j])
        auc = roc_auc_score(y[cut:, j], model.predict_proba(x[cut:])[:, 1])
        print(f"{label:18s} AUROC {auc:.3f}  (train {cut}, test {args.n - cut}, positives {y[:, j].sum()})")


if __name__ == "__main__":
    main()
