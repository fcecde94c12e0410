"""Can an unseen body be read by outlining? The outliner, the CTR it measures and its finding scores.

Run: PYTHONPATH=. .venv/bin/python benchmarks/outlines.py DATA_DIR [--steps 1500] [--size 128]
         [--real ../shared/realfilm] [--out var/eval/outlines] [--save var/models/outlines.pt]
         [--predictions PRED.jsonl ...] [--fused-out DIR [--validation-predictions PRED.jsonl]]

Fits ``medvlm.model.outlines.OutlineNet`` to the masks of the build's train-split frontal films (lungs,
heart, every finding drawn), then on the in-patient and the cross-patient test films prints: Dice per organ,
the measured CTR against the drawn one and its cardiomegaly AUROC (beside the drawn CTR's, the ceiling), and
per outlined finding the AUROC of its outline score, beside the findings head's AUROC on the same films when
``--predictions`` (``findings_predictions.py`` outputs) are given. With ``--real`` it outlines the real
frontal films, prints the AUROCs their labels allow and writes a sheet of overlays. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from medvlm.dataset.masks import ORGANS
from medvlm.findings import Presence
from medvlm.model.outlines import OutlineNet, finding_scores, measured_ctr
from medvlm.training.images import cache_images
from medvlm.training.manifest import Record, read_records
from medvlm.training.outlines import fit_outlines, mask_tensor, masked_films

BATCH = 64


def positive(r: Record, label: str) -> int:
    return int(any(f.label == label and f.presence != Presence.ABSENT for f in r.findings))


def run(net: OutlineNet, images: torch.Tensor) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Masks (N, channels, S, S) bool and per-finding scores."""
    masks, scores = [], []
    for i in range(0, len(images), BATCH):
        p = net.probabilities(images[i : i + BATCH].float())
        masks.append((p > 0.5).numpy())
        scores.append(finding_scores(p, net.channels))
    return np.concatenate(masks), {k: np.concatenate([s[k] for s in scores]) for k in scores[0]}


def head_rows(paths: list[Path]) -> dict[str, tuple[dict, Path]]:
    """study id -> (its findings_predictions.py row, the folder it came from)."""
    rows = {}
    for path in paths:
        for line in path.read_text().splitlines():
            row = json.loads(line)
            rows[row["study_id"]] = (row, path.parent)
    return rows


def head_scores(rows: dict[str, tuple[dict, Path]], records: list[Record]) -> dict[str, np.ndarray]:
    """The findings head's probabilities per finding for ``records`` ({} when the rows do not cover them)."""
    if not rows or not all(r.study_id in rows for r in records):
        return {}
    names = rows[records[0].study_id][0]["probabilities"]
    return {k: np.array([rows[r.study_id][0]["probabilities"][k] for r in records]) for k in names}


def percentile(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's share of ``reference`` at or below it (its percentile on the validation films)."""
    ordered = np.sort(reference)
    return np.searchsorted(ordered, values, side="right") / max(len(ordered), 1)


Scores = dict[str, np.ndarray]  # finding -> one score per film


def write_fused(rows: dict[str, tuple[dict, Path]], records: list[Record], scores: Scores, out: Path,
                reference: tuple[Scores, Scores] | None = None) -> None:
    """The head's predictions with each outlined finding's probability replaced by the mean of the head's and
    the outline score (chosen before looking: no per-finding choice), as a `medvlm eval --out` folder that
    `medvlm eval compare HEAD_DIR out` pairs with the head's. With ``reference`` (the head's and the
    outliner's scores on the validation films) both are first turned into validation percentiles, so
    neither dominates by its spread."""
    out.mkdir(parents=True, exist_ok=True)
    source = rows[records[0].study_id][1]
    (out / "metrics.json").write_text((source / "metrics.json").read_text())  # the split's hashes
    with (out / "predictions.jsonl").open("w") as fh:
        for i, r in enumerate(records):
            row = dict(rows[r.study_id][0])
            probabilities = dict(row["probabilities"])
            for label, s in scores.items():
                if label not in probabilities:
                    continue
                head, outline = probabilities[label], float(s[i])
                if reference is not None:
                    head = float(percentile(reference[0][label], np.array([head]))[0])
                    outline = float(percentile(reference[1][label], np.array([outline]))[0])
                probabilities[label] = round((head + outline) / 2, 6)
            fh.write(json.dumps({**row, "probabilities": probabilities}, sort_keys=True) + "\n")


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")


def evaluate(net: OutlineNet, records: list[Record], name: str, rows: dict[str, tuple[dict, Path]],
             fused: Path | None, reference: tuple[Scores, Scores] | None = None) -> None:
    kept, truth_masks = masked_films(records, net.channels)
    images = cache_images([r.files[0] for r in kept], net.size, None, progress=True)
    truth = mask_tensor(truth_masks, net.size).numpy() > 0.5
    pred, scores = run(net, images)
    inter = (pred & truth).sum(axis=(0, 2, 3))
    dice = 2 * inter / np.maximum(pred.sum(axis=(0, 2, 3)) + truth.sum(axis=(0, 2, 3)), 1)
    ctr = np.array([measured_ctr(p, net.channels) or np.nan for p in pred])
    drawn = np.array([r.provenance["render"]["ctr"] for r in kept])
    y = np.array([positive(r, "cardiomegaly") for r in kept])
    ok = ~np.isnan(ctr)
    head = head_scores(rows, kept)
    if fused is not None and head:
        write_fused(rows, kept, scores, fused / name, reference)
    print(f"{name} ({len(kept)} films): Dice " + ", ".join(
        f"{c} {dice[i]:.3f}" for i, c in enumerate(net.channels) if c in ORGANS or truth[:, i].any()))
    print(f"  CTR measured vs drawn: r {np.corrcoef(ctr[ok], drawn[ok])[0, 1]:.3f}, MAE "
          f"{np.abs(ctr[ok] - drawn[ok]).mean():.3f}; normal {np.nanmean(ctr[y == 0]):.3f} (drawn "
          f"{drawn[y == 0].mean():.3f}), cardiomegaly {np.nanmean(ctr[y == 1]):.3f} "
          f"({drawn[y == 1].mean():.3f})")
    rows = [("cardiomegaly (measured CTR)", y, np.nan_to_num(ctr), "cardiomegaly")]
    rows += [(label, np.array([positive(r, label) for r in kept]), s, label) for label, s in scores.items()]
    print(f"  {'AUROC':30s} {'n+':>4s} {'outline':>8s} {'head':>6s}")
    for label, yy, s, key in rows:
        if 0 < yy.sum() < len(yy):
            h = f"{auroc(yy, head[key]):.3f}" if key in head else ""
            print(f"  {label:30s} {yy.sum():4d} {auroc(yy, s):8.3f} {h:>6s}")
    print(f"  cardiomegaly by the drawn CTR (ceiling): {auroc(y, drawn):.3f}")


def overlay(image: np.ndarray, masks: np.ndarray, channels: tuple[str, ...]) -> np.ndarray:
    rgb = np.repeat(image[..., None], 3, axis=-1)
    colours = {"lungs": (0.0, 0.35, 0.0), "heart": (0.35, 0.0, 0.0)}
    for i, c in enumerate(channels):
        rgb[masks[i]] = rgb[masks[i]] * 0.65 + np.array(colours.get(c, (0.35, 0.3, 0.0)))
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def real(net: OutlineNet, folder: Path, out: Path, n: int = 24) -> None:
    from medvlm.evaluation.classification import auroc_interval, interval_text
    from medvlm.evaluation.real_films import PROXIES, gate_films, read_films

    rows = gate_films(read_films(folder), net.size)[1]
    films = [film for film, _ in rows]
    images = torch.stack([image for _, image in rows])
    pred, scores = run(net, images)
    ctr = np.array([measured_ctr(p, net.channels) or np.nan for p in pred])
    print(f"real frontal films ({len(images)}): measured CTR median {np.nanmedian(ctr):.3f} (p10 "
          f"{np.nanpercentile(ctr, 10):.3f}, p90 {np.nanpercentile(ctr, 90):.3f}); unmeasurable "
          f"{np.isnan(ctr).sum()}")
    for label in sorted({k for f in films for k in f.labels}):
        finding = PROXIES.get(label, label)
        idx = [i for i, f in enumerate(films) if label in f.labels]
        yy = np.array([films[i].labels[label] for i in idx])
        if finding in scores and 0 < yy.sum() < len(yy):
            value = auroc(yy, scores[finding][idx])
            spread = interval_text(auroc_interval(yy, scores[finding][idx]))
            print(f"  {label} ({yy.sum()} vs {len(yy) - yy.sum()}): outline AUROC {value:.3f} "
                  f"[95 % {spread}]")
    pick = np.linspace(0, len(images) - 1, n).astype(int)
    organs = [net.channels.index(c) for c in ORGANS]
    tiles = [overlay(images[i, 0].numpy(), pred[i][organs], ORGANS) for i in pick]
    sheet = [np.concatenate(tiles[k : k + 8], axis=1) for k in range(0, n, 8)]
    out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(sheet, axis=0)).save(out / "real_outlines.png")
    print(f"  overlays (lungs green, heart red): {out / 'real_outlines.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--width", type=int, default=12)
    parser.add_argument("--real", type=Path)
    parser.add_argument("--out", type=Path, default=Path("var/eval/outlines"))
    parser.add_argument("--save", type=Path)
    parser.add_argument("--load", type=Path)
    parser.add_argument("--predictions", type=Path, nargs="*", default=[],
                        help="findings_predictions.py outputs of the same films: the head's AUROCs beside")
    parser.add_argument("--fused-out", type=Path, help="with --predictions: write per split the head's "
                        "predictions with outlined findings averaged with the outline score")
    parser.add_argument("--validation-predictions", type=Path, help="the head's predictions on the "
                        "validation split: --fused-out then averages validation percentiles")
    args = parser.parse_args()
    torch.set_num_threads(2)
    records = read_records(args.data)
    if args.load:
        net = OutlineNet(width=args.width, size=args.size)
        net.load_state_dict(torch.load(args.load, weights_only=True))
        net.eval()
    else:
        kept, masks = masked_films([r for r in records if r.split == "train"])
        if not kept:
            raise SystemExit(f"{args.data}: no film carries masks (built before masks were written?)")
        images = cache_images([r.files[0] for r in kept], args.size, args.data / "cache", progress=True)
        net, losses = fit_outlines(images, mask_tensor(masks, args.size), steps=args.steps, width=args.width)
        print(f"fitted on {len(kept)} films, {args.steps} steps: loss {np.mean(losses[:50]):.3f} -> "
              f"{np.mean(losses[-50:]):.3f}")
        if args.save:
            args.save.parent.mkdir(parents=True, exist_ok=True)
            torch.save(net.state_dict(), args.save)
    rows = head_rows(args.predictions)
    reference = None
    if args.validation_predictions is not None:  # the percentile scale, from validation films only
        held = [r for r in records if r.split == "validation" and r.masks is not None]
        head = head_scores(head_rows([args.validation_predictions]), held)
        outline = run(net, cache_images([r.files[0] for r in held], net.size, None, progress=True))[1]
        reference = (head, outline)
    for split in ("test", "test_cross_patient"):
        chosen = [r for r in records if r.split == split]
        if chosen:
            evaluate(net, chosen, split, rows, args.fused_out, reference)
    if args.real:
        real(net, args.real, args.out)


if __name__ == "__main__":
    main()
