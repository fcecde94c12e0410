"""One retraining from N signed corrections at the default model's size, against a hospital-size replay set.

    PYTHONPATH=. .venv/bin/python benchmarks/retrain_time.py --data var/data/iu2 [--n 50] [--base MODEL_DIR]

``--data`` is a ``medvlm data build`` folder (its train split is the replay set). Without ``--base`` a
throwaway tiny model is trained for a few steps first (its quality does not matter for the time). The N
corrections are the first N studies of the cross-patient test split (``test_cross_patient``, else
``test``), FINAL = the truth and ORIGINAL = the base model's findings, in the export's record format.
The retraining is ``medvlm.training.retrain.retrain`` with the shipped ``curricula/corrections.yaml`` (the
path of ``medvlm corrections retrain``). Prints the wall time, split into the replay films' cache (decoded
once per retraining) and the rest. Target: <= 10 min on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

BASE = """
name: throwaway_base
seed: 0
model: {preset: tiny}
data:
  labels: {split: train}
  validation: {split: validation}
stages:
  - {name: encoder, kind: encoder, sources: [labels], eval_source: validation, steps: 20, batch_size: 8,
     lr: 1.0e-3, modules: {vision: full, findings_head: full}, eval_every: 20, eval_samples: 64,
     eval_tasks: [findings], checkpoint_every: 20,
     select_on: findings.macro_auroc}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--base", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("/tmp/medvlm-retrain-time"))
    args = parser.parse_args()
    if not (args.data / "manifest.jsonl").is_file():
        sys.exit(f"{args.data} has no manifest.jsonl; build one with `medvlm data build`")
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"{args.out} is not empty; pass a new --out")
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.update({"MEDVLM_DATABASE_URL": f"sqlite:///{args.out / 'registry.db'}",
                       "MEDVLM_DATA_DIR": str(args.out / "var"), "MEDVLM_ENVIRONMENT": "test"})
    import torch

    from benchmarks.correction_reviewer import as_correction
    from medvlm.inference import draft_batch
    from medvlm.model import load_bundle
    from medvlm.package_data import CORRECTIONS_CURRICULUM
    from medvlm.training.retrain import RetrainOptions, retrain
    from medvlm.training.runner import TrainOptions, train

    torch.set_num_threads(2)
    data = args.data.resolve()
    records = [json.loads(x) for x in (data / "manifest.jsonl").read_text().splitlines() if x.strip()]
    replay = sum(r["split"] == "train" for r in records)
    split = "test_cross_patient" if any(r["split"] == "test_cross_patient" for r in records) else "test"
    chosen = [r for r in records if r["split"] == split][: args.n]
    base = args.base
    if base is None:
        (args.out / "base.yaml").write_text(BASE)
        started = time.monotonic()
        train(TrainOptions(args.out / "base.yaml", data, args.out / "base", progress=True, register=False))
        base = args.out / "base"
        print(f"throwaway base model: {time.monotonic() - started:.0f} s")
    bundle = load_bundle(base)
    drafts = draft_batch(bundle, [[str(data / r["files"][0])] for r in chosen], max_new_tokens=8)
    run_data = args.out / "data"
    run_data.mkdir()
    for entry in data.iterdir():
        if entry.name != "corrections":
            (run_data / entry.name).symlink_to(entry)
    corrections = [as_correction(r, d, split="train", files=[str(data / f) for f in r["files"]])
                   for r, d in zip(chosen, drafts, strict=True)]
    (run_data / "corrections").mkdir()
    lines = "".join(json.dumps(c) + "\n" for c in corrections)
    (run_data / "corrections" / "manifest.jsonl").write_text(lines)
    curriculum = args.out / "corrections.yaml"
    shutil.copy(CORRECTIONS_CURRICULUM, curriculum)
    started = time.monotonic()
    result = retrain(RetrainOptions(run_data, args.out / "candidate", actor="benchmark:retrain-time",
                                    curriculum=curriculum, base=base, progress=True))
    total = time.monotonic() - started
    history = json.loads((args.out / "candidate" / "training" / "history.json").read_text())
    stage_s = sum(float(s.get("throughput", {}).get("seconds", 0.0)) for s in history)
    print(f"\none retraining from {args.n} corrections, replay split {replay} films, tiny preset, "
          f"{torch.get_num_threads()} threads: {total:.0f} s ({total / 60:.1f} min; target <= 10 min)")
    if stage_s:
        print(f"  of which the corrections stage's training steps {stage_s:.0f} s; the rest (film cache, "
              f"evaluation, save, registry) {total - stage_s:.0f} s")
    print(f"  candidate {result.candidate_id}: {json.dumps(result.metrics)}")


if __name__ == "__main__":
    main()
