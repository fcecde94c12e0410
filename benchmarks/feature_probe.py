"""What a model's findings features carry: the film's CTR (across patients?) and which CT patient it is.

Run: PYTHONPATH=. .venv/bin/python benchmarks/feature_probe.py MODEL_DIR DATA_DIR [--train-films 1500]

The findings head's pooled features (``FindingsHead.features``) of training films are fitted, by ridge
regression, to the cardiothoracic ratio the renderer drew (``render.ctr``) and, by logistic regression, to
the film's CT patient; both are scored on the in-patient test films and the CTR on the cross-patient ones.
A model that measures the heart gives a CTR correlation on the unseen patient near its in-patient one; a
model that recognises patients gives near-perfect patient accuracy. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from medvlm.findings import Presence
from medvlm.model.bundle import load_bundle
from medvlm.training.images import load_image
from medvlm.training.manifest import Record, read_records

BATCH = 64


def features(bundle: object, records: list[Record], desc: str) -> np.ndarray:
    size = bundle.image_size  # type: ignore[attr-defined]
    out = []
    with torch.no_grad():
        for i in tqdm(range(0, len(records), BATCH), desc=desc, unit="batch"):
            films = torch.stack([load_image(r.files[0], size) for r in records[i : i + BATCH]])
            out.append(bundle.findings_pass(films)[2].numpy())  # type: ignore[attr-defined]
    return np.concatenate(out)


def drawn_ctr(record: Record) -> float:
    return float(record.provenance["render"]["ctr"])


def patient(record: Record) -> str:
    return str(record.provenance.get("ct_patient"))


def has(record: Record, label: str) -> bool:
    return any(f.label == label and f.presence != Presence.ABSENT for f in record.findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--train-films", type=int, default=1500)
    args = parser.parse_args()
    torch.manual_seed(0)
    bundle = load_bundle(args.model)
    bundle.eval()
    records = [r for r in read_records(args.data) if r.provenance.get("render", {}).get("ctr") is not None]
    by_split: dict[str, list[Record]] = {}
    for r in records:
        by_split.setdefault(r.split, []).append(r)
    train = by_split["train"][:: max(len(by_split["train"]) // args.train_films, 1)][: args.train_films]
    x_train = features(bundle, train, "train films")
    ctr = make_pipeline(StandardScaler(), Ridge(alpha=10.0)).fit(x_train, [drawn_ctr(r) for r in train])
    patients = [patient(r) for r in train]
    who = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000)).fit(x_train, patients)
    print(f"{args.model}: features {x_train.shape[1]}, fitted on {len(train)} training films")
    for split in ("test", "test_cross_patient"):
        rows = by_split.get(split)
        if not rows:
            continue
        x = features(bundle, rows, split)
        true = np.array([drawn_ctr(r) for r in rows])
        pred = ctr.predict(x)
        cardio = np.array([has(r, "cardiomegaly") for r in rows])
        r_ctr, mae = np.corrcoef(pred, true)[0, 1], np.abs(pred - true).mean()
        line = (f"  {split:20s} CTR r {r_ctr:.3f}, MAE {mae:.4f}; cardiomegaly AUROC from the fitted CTR "
                f"{roc_auc_score(cardio, pred):.3f} (from the drawn CTR {roc_auc_score(cardio, true):.3f}, "
                f"{int(cardio.sum())} positives)")
        if split == "test":
            accuracy = float(np.mean(who.predict(x) == np.array([patient(r) for r in rows])))
            line += f"; CT patient accuracy {accuracy:.3f} (chance {1 / len(set(patients)):.3f})"
        print(line)


if __name__ == "__main__":
    main()
