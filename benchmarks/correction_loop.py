"""The correction loop's gain curve: a production model with a blind spot, N signed corrections, retraining.

    PYTHONPATH=. .venv/bin/python benchmarks/correction_loop.py [--out DIR] [--ns 0,10,25,50,100]

SYNTHETIC and small, so that it runs on 2 CPU cores in minutes: the films are the training tests' drawn
chest-like pictures (``tests/medvlm/training/synthdata.py``: heart, effusion by side and size, nodule by
side, reports in the ontology's phrases) on the ``micro`` preset, whose production model is trained on
findings (encoder stage) and text (specialism stage). The blind spot: the production model never saw a
nodule (every nodule-positive study is dropped from its training split), as a finding rare in a site's
data would be. A pool of new studies (about 30 % with a nodule) is uploaded to the service and drafted by
the production model; a reviewer standing in for the radiologist (the ground truth) chooses N of them,
corrects findings and text and signs them through the HTTP API, and ``export_corrections`` de-identifies
them (``--reviewer api``, the default, ``benchmarks/correction_reviewer.py``; ``--reviewer direct`` writes
the same record format in-process). N is chosen two ways: the worklist's ``order=uncertainty`` (decision
margin x familiarity, ``medvlm.inference.uncertainty``) and at random. Each N retrains through
``medvlm.training.retrain.retrain`` (the path of ``medvlm corrections retrain``: the corrections curriculum
teaches the vision tower, the findings head + thresholds and the text, each with replay; the micro language
model trains fully, ``--language lora`` as the shipped curriculum does; ``--vision frozen`` shows what the
head alone can learn; ``--curriculum`` takes the shipped one) from the same
production model into a registry of its own and is promoted only through the registry's gate (floors and
tolerance 0.02 against production); held-out studies are then drafted (``draft_batch``, the service's
path) by whatever is production after the gate: F1 of the corrected finding (nodule), macro-F1 of the
others, and own-text CE-F1 (the labeler's reading of the model's own text, before the guard, against the
truth). The candidate's own scores, promoted or not, are in ``gain_curve.json`` ("candidate").

Not covered here (say so when quoting it): real films, more than one seed. Prints the table and writes
``gain_curve.png`` and ``gain_curve.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

CORRECTED = "nodule"
OTHERS = ("cardiomegaly", "pleural_effusion")

BASE = """
name: bench_base
seed: 0
model: {preset: micro}
data:
  labels: {split: train}
  validation: {split: validation}
stages:
  - name: encoder
    kind: encoder
    sources: [labels]
    eval_source: validation
    modules: {vision: full, findings_head: full}
    steps: STEPS
    batch_size: 24
    lr: 4.0e-3
    warmup_steps: 5
    eval_every: STEPS
    checkpoint_every: STEPS
    eval_tasks: [findings]
    select_on: findings.macro_auroc
  - name: specialism
    kind: specialism
    sources: [labels]
    eval_source: validation
    modules: {projector: full, language: full}
    steps: TEXT
    batch_size: 16
    lr: 3.0e-3
    max_answer_tokens: 48
    eval_every: TEXT
    checkpoint_every: TEXT
    eval_samples: 32
    eval_tasks: [report]
    select_on: report.ce_f1
"""
CORRECTIONS = """
name: bench_corrections
seed: 0
model: {preset: micro}
data:
  replay: {split: train}
  validation: {split: validation}
  corrections: {kind: corrections, path: corrections}
stages:
  - name: corrections
    kind: corrections
    sources: [corrections, replay]
    eval_source: validation
    modules: {vision: VISION, findings_head: full, language: LANGUAGE}
    teach:
      findings: {replay_fraction: 0.8, weight: 1.0, retune_thresholds: true}
      text: {replay_fraction: 0.5}
    steps: STEPS
    batch_size: 16
    lr: LR
    max_answer_tokens: 48
    eval_every: STEPS
    checkpoint_every: STEPS
    eval_samples: 32
    eval_tasks: [findings, report]
    select_on: findings.macro_auroc
    augment: false
"""


def _records(directory: Path, split: str) -> list[dict]:
    lines = (directory / "manifest.jsonl").read_text().splitlines()
    return [r for r in (json.loads(x) for x in lines if x.strip()) if r["split"] == split]


def _write(directory: Path, records: list[dict]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _labels(record: dict) -> set[str]:
    return {f["label"] for f in record["findings"] if f.get("presence", "present") != "absent"}


def _drafts(model_dir: Path, records: list[dict], root: Path) -> list:
    """The production path's drafts (``draft_batch``, guard on) of each record's film."""
    from medvlm.inference import draft_batch
    from medvlm.model import load_bundle

    bundle = load_bundle(model_dir)
    return draft_batch(bundle, [[str(root / r["files"][0])] for r in records], max_new_tokens=48)


def _scores(drafts: list, records: list[dict]) -> dict[str, float | None]:
    """Held-out F1 of the corrected finding and of the others (from the drafted findings) and own-text
    CE-F1 (the labeler's reading of the model's text before the guard)."""
    from medvlm.evaluation.classification import f1, macro
    from medvlm.evaluation.clinical import clinical_scores, positive_labels
    from medvlm.labeler import label_report

    out: dict[str, float | None] = {}
    present = [{f.label for f in d.findings if str(f.presence.value) != "absent"} for d in drafts]
    for label in (CORRECTED, *OTHERS):
        out[label] = f1([int(label in _labels(r)) for r in records], [int(label in p) for p in present])
    out["others_macro"] = macro([out[o] for o in OTHERS])
    stated = [positive_labels(label_report(f"{d.generated[0]} {d.generated[1]}")) for d in drafts]
    truth = [frozenset(_labels(r)) for r in records]
    out["own_text_ce_f1"] = clinical_scores(stated, truth).ce_f1
    return out


def _priorities(drafts: list) -> list[float]:
    """The worklist's order=uncertainty key of each draft (direct reviewer; the API reads the worklist)."""
    from medvlm.inference.uncertainty import review_priority

    out = []
    for d in drafts:
        thresholds = {f.label: float(f.threshold) for f in d.findings}
        out.append(review_priority(d.findings, thresholds.__getitem__, d.familiarity) or 1.0)
    return out


def _fresh_registry(run: Path, production_dir: Path) -> None:
    """A registry of its own for one retraining (``run/registry.db``) whose production is ``production_dir``,
    so that each N is promoted, or refused, against the same production."""
    from medvlm.errors import PromotionRefusedError
    from medvlm.registry import promote, register_version
    from medvlm.settings import get_settings

    os.environ["MEDVLM_DATABASE_URL"] = f"sqlite:///{run / 'registry.db'}"
    get_settings.cache_clear()
    try:
        promote(register_version(production_dir).id)  # the floors apply to the first promotion too
    except PromotionRefusedError as exc:
        sys.exit(f"the production model cannot be production: {exc} (train it longer with --base-steps / "
                 "--text-steps, or give the site's --floors)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/medvlm-correction-loop"))
    parser.add_argument("--ns", default="0,10,25,50,100")
    parser.add_argument("--steps", type=int, default=200, help="corrections stage steps")
    parser.add_argument("--base-steps", type=int, default=150, help="production encoder steps")
    parser.add_argument("--text-steps", type=int, default=300, help="production text (specialism) steps")
    parser.add_argument("--language", choices=["full", "lora"], default="full",
                        help="how the corrections stage trains the language model (micro: full)")
    parser.add_argument("--vision", choices=["full", "frozen"], default="full",
                        help="whether the corrections stage trains the vision tower too")
    parser.add_argument("--lr", type=float, default=2e-3, help="corrections stage learning rate")
    parser.add_argument("--preset", default="micro", help="model preset (tiny: the default model's size)")
    parser.add_argument("--curriculum", type=Path, default=None,
                        help="a corrections curriculum to use instead of the benchmark's (e.g. "
                             "curricula/corrections.yaml, the one `medvlm corrections retrain` uses)")
    parser.add_argument("--floors", type=Path, default=None,
                        help="promotion floors file (default: the settings' floors)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reviewer", choices=["api", "direct"], default="api",
                        help="api: upload, draft, choose from the worklist, correct and sign over the HTTP "
                             "API, then export; direct: the export-format records in-process")
    args = parser.parse_args()
    out: Path = args.out
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} is not empty; pass a new --out")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.update({"MEDVLM_DATABASE_URL": f"sqlite:///{out / 'registry.db'}",
                       "MEDVLM_DATA_DIR": str(out / "var"), "MEDVLM_ENVIRONMENT": "test"})
    if args.floors is not None:
        os.environ["MEDVLM_PROMOTION_FLOORS"] = str(args.floors.resolve())
    import torch

    from medvlm.training.retrain import RetrainOptions, retrain
    from medvlm.training.runner import TrainOptions, train
    from tests.medvlm.training.synthdata import build_dataset

    torch.set_num_threads(args.threads)
    ns = [int(n) for n in args.ns.split(",")]
    t0 = time.monotonic()
    data = build_dataset(out / "data", n_train=200, n_validation=64, seed=0)
    pool_dir = build_dataset(out / "pool", n_train=max(ns) * 2 + 20, n_validation=0, seed=1)
    held_dir = build_dataset(out / "heldout", n_train=0, n_validation=120, seed=2)
    train_records = _records(data, "train")
    blind = [r for r in train_records if CORRECTED not in _labels(r)]
    _write(data, blind + _records(data, "validation"))  # the blind spot: no nodule in training
    print(f"base training split: {len(blind)} films, {len(train_records) - len(blind)} nodule films dropped")
    (out / "base.yaml").write_text(BASE.replace("STEPS", str(args.base_steps)).replace(
        "TEXT", str(args.text_steps)).replace("preset: micro", f"preset: {args.preset}"))
    corrections_curriculum = args.curriculum.read_text() if args.curriculum else CORRECTIONS.replace(
        "STEPS", str(args.steps)).replace("LANGUAGE", args.language).replace("VISION", args.vision).replace(
        "LR", str(args.lr))
    (out / "corrections.yaml").write_text(corrections_curriculum)
    base_dir = out / "production"
    train(TrainOptions(out / "base.yaml", data, base_dir, progress=False, register=False))
    print(f"production: trained in {time.monotonic() - t0:.0f} s")

    pool = _records(pool_dir, "train")
    for r in pool:
        r["files"] = [str((pool_dir / f).resolve()) for f in r["files"]]
    held = _records(held_dir, "validation")
    rows = [{"selection": s, "n": 0, **_scores(_drafts(base_dir, held, held_dir), held),
             "gate": "production", "seconds": 0.0} for s in ("uncertainty", "random")]
    print(json.dumps(rows[0]))
    orders: dict[str, list[int]] = {}
    exports: dict[str, Path] = {}
    if args.reviewer == "api":
        from benchmarks.correction_reviewer import review_via_api

        for selection in ("uncertainty", "random"):
            started = time.monotonic()
            exports[selection], orders[selection] = review_via_api(
                pool, base_dir, out / f"review_{selection}", selection, max(ns))
            print(f"{selection}: {len(pool)} studies drafted, {max(ns)} chosen, corrected and signed through "
                  f"the API, exported ({time.monotonic() - started:.0f} s)")
    else:
        pool_drafts = _drafts(base_dir, pool, pool_dir)
        priorities = _priorities(pool_drafts)
        orders = {"uncertainty": sorted(range(len(pool)), key=lambda i: priorities[i]),
                  "random": random.Random(0).sample(range(len(pool)), len(pool))}
    for selection, order in orders.items():
        for n in (n for n in ns if n > 0):
            run = out / f"{selection}_{n}"
            run_data = run / "data"
            run_data.mkdir(parents=True)
            for entry in ("manifest.jsonl", "dicom"):
                (run_data / entry).symlink_to((data / entry).resolve())
            if args.reviewer == "api":
                from benchmarks.correction_reviewer import corrections_subset

                corrections_subset(exports[selection], n, run_data / "corrections")
            else:
                from benchmarks.correction_reviewer import as_correction

                _write(run_data / "corrections", [as_correction(pool[i], pool_drafts[i]) for i in order[:n]])
            _fresh_registry(run, base_dir)  # each N starts from the same production, in its own registry
            started = time.monotonic()
            options = RetrainOptions(run_data, run / "model", actor="benchmark:correction-loop",
                                     curriculum=out / "corrections.yaml", base=base_dir, progress=False,
                                     promote=True, tolerance=0.02)
            result = retrain(options)
            seconds = time.monotonic() - started
            candidate = _scores(_drafts(run / "model", held, held_dir), held)
            delivered = candidate if result.promoted else rows[0]  # what production drafts after the gate
            rows.append({"selection": selection, "n": n,
                         **{k: delivered[k] for k in (CORRECTED, *OTHERS, "others_macro", "own_text_ce_f1")},
                         "candidate": candidate,
                         "gate": "promoted" if result.promoted else f"refused: {result.refused}",
                         "seconds": round(seconds, 1),
                         "with_nodule": sum(CORRECTED in _labels(pool[i]) for i in order[:n])})
            print(json.dumps(rows[-1]))
    _report(rows, out, args.preset)


def _report(rows: list[dict], out: Path, preset: str) -> None:
    def fmt(v: object) -> str:
        return "  -  " if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    print(f"\nSYNTHETIC ({preset} preset, drawn films); held-out F1 after N corrections")
    print(f"{'selection':<12}{'N':>4}{'nodule F1':>11}{'others mF1':>12}{'cardio':>8}{'effusion':>10}"
          f"{'own CE-F1':>11}{'nodules in N':>14}{'train s':>9}{'cand. nodule':>14}  gate")
    for r in rows:
        print(f"{r['selection']:<12}{r['n']:>4}{fmt(r[CORRECTED]):>11}{fmt(r['others_macro']):>12}"
              f"{fmt(r['cardiomegaly']):>8}{fmt(r['pleural_effusion']):>10}{fmt(r['own_text_ce_f1']):>11}"
              f"{fmt(r.get('with_nodule', 0)):>14}{fmt(r['seconds']):>9}"
              f"{fmt(r['candidate'][CORRECTED] if 'candidate' in r else None):>14}  {r['gate']}")
    (out / "gain_curve.json").write_text(json.dumps(rows, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    metrics = ((CORRECTED, "nodule F1", "tab:red"), ("others_macro", "others macro-F1", "tab:blue"),
               ("own_text_ce_f1", "own-text CE-F1", "tab:green"))
    for selection, style in (("uncertainty", "-o"), ("random", ":s")):  # line style: how N was chosen
        part = [r for r in rows if r["selection"] == selection]
        for key, name, colour in metrics:  # colour: the metric
            ax.plot([r["n"] for r in part], [r[key] or 0.0 for r in part], style, color=colour,
                    label=f"{name} ({selection} first)" if selection == "uncertainty" else f"{name} (random)")
    ax.set_xlabel("signed corrections N")
    ax.set_ylabel("held-out F1")
    ax.set_title(f"Correction loop gain (SYNTHETIC drawn films, {preset} preset)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "gain_curve.png", dpi=120)
    print(f"\nplot: {out / 'gain_curve.png'}; rows: {out / 'gain_curve.json'}")


if __name__ == "__main__":
    main()
