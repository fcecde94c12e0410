"""Findings only, fast: a bundle's finding probabilities on one split, in `medvlm eval`'s output format.

Run: PYTHONPATH=. .venv/bin/python benchmarks/findings_predictions.py MODEL_DIR DATA_DIR SPLIT OUT_DIR
Writes OUT_DIR/predictions.jsonl and OUT_DIR/metrics.json (findings metrics only) so that `medvlm eval
compare A B` pairs two runs. For encoder experiments: a stage's bundle (MODEL/training/stages/encoder)
drafts no usable text, and `medvlm eval` would spend minutes generating it. Studies are loaded as a draft
loads them (frontal, and the lateral for a model that reads laterals); asserts nothing.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from medvlm.dataset.manifest import manifest_hash, read_manifest
from medvlm.evaluation.compare import PREDICTIONS, write_predictions
from medvlm.evaluation.scoring import score_findings
from medvlm.findings import Finding
from medvlm.inference.inputs import load_study
from medvlm.model.bundle import load_bundle


@dataclass
class Predicted:
    findings: list[Finding]  # what write_predictions reads of a draft


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("split")
    parser.add_argument("out", type=Path)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    bundle = load_bundle(args.model).eval()
    records = [r for r in read_manifest(args.data) if r.split == args.split]
    predicted: list[Predicted] = []
    with torch.no_grad():
        for start in range(0, len(records), args.batch_size):
            # the draft's own loader: the frontal (and lateral) it would pick from the study's files
            part = [load_study(r.files, bundle.image_size, inputs=bundle.config.inputs)
                    for r in records[start : start + args.batch_size]]
            laterals = [item.lateral for item in part]
            found = bundle.predict_findings(
                torch.stack([item.image for item in part]),
                laterals if any(x is not None for x in laterals) else None,
            )
            predicted += [Predicted(f) for f in found]
    args.out.mkdir(parents=True, exist_ok=True)
    write_predictions(args.out / PREDICTIONS, records, predicted)
    metrics, _ = score_findings(bundle.names, [p.findings for p in predicted], [r.findings for r in records])
    metrics.update(
        model_version=bundle.version, split=args.split, n_studies=len(records),
        data_manifest_sha256=manifest_hash(args.data),
    )
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    print(f"{args.split}: {len(records)} studies, macro-AUROC {metrics.get('findings.macro_auroc')}, "
          f"supported {metrics.get('findings.macro_auroc_supported')} -> {args.out}")


if __name__ == "__main__":
    main()
