"""Can a small local CNN learn one finding from a dataset's films? Train and test AUROC as it trains.

Run: PYTHONPATH=. .venv/bin/python benchmarks/local_probe.py DATA_DIR TARGET [--locate] [--steps 400]
TARGET is an ontology finding (``nodule``) or a support-device type (``pacemaker``: support_device films
whose location names it). A plain stride-8 CNN (seven 3x3 blocks, receptive field ~59 px) scores every
cell; a film's score is the maximum. ``--locate`` also teaches each cell whether a recorded spot of the
target covers it (``provenance.render.findings[].spots``, as the encoder stage's localization term does).
This is the check behind docs/performance.md's "what can learn them": a finding this probe learns is
visible at the input size, one it cannot learn even on its own training films is at best subtle there.
Asserts nothing; prints figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from medvlm.findings import Presence
from medvlm.imaging.transforms import model_input
from medvlm.model.configuration import FindingSlot
from medvlm.training.images import augment
from medvlm.training.localize import record_spots, spot_targets
from medvlm.training.manifest import Record, read_records

GRID = 32  # cells per side of a 256-px input at stride 8
SIZE = 256


def is_target(record: Record, target: str) -> bool:
    return any(
        f.presence == Presence.PRESENT
        and (f.label == target or (f.label == "support_device" and f.location == target))
        for f in record.findings
    )


def films(records: list[Record], what: str) -> torch.Tensor:
    """The frontal film of each study (training's ``files[0]``) as model input."""
    return torch.stack([model_input(r.files[0], SIZE) for r in tqdm(records, desc=f"decode {what}")]).half()


def probe_net() -> nn.Sequential:
    def block(i: int, o: int, stride: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(i, o, 3, stride, 1), nn.GroupNorm(8, o), nn.GELU())

    return nn.Sequential(
        block(1, 16, 2), block(16, 16, 1), block(16, 32, 2), block(32, 32, 1), block(32, 64, 2),
        block(64, 64, 1), block(64, 64, 1), nn.Conv2d(64, 1, 1),
    )


@torch.no_grad()
def scores(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    net.eval()
    out = torch.cat([net(x[i : i + 64].float()).flatten(1).amax(1) for i in range(0, len(x), 64)])
    net.train()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("target")
    parser.add_argument("--locate", action="store_true")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--negatives", type=int, default=900, help="training films without the target")
    args = parser.parse_args()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    records = read_records(args.data)
    train = [r for r in records if r.split == "train"]
    test = [r for r in records if r.split == "test"]
    pos = [r for r in train if is_target(r, args.target)]
    neg = [r for r in train if not is_target(r, args.target)]
    neg = [neg[i] for i in torch.randperm(len(neg), generator=g)[: args.negatives].tolist()]
    test_pos = [r for r in test if is_target(r, args.target)]
    test_neg = [r for r in test if not is_target(r, args.target)][:400]
    if not pos or not test_pos:
        raise SystemExit(f"no {args.target!r} positives in the train or test split of {args.data}")
    pool = pos + neg
    x_train = films(pool, "train")
    y_train = torch.tensor([1.0] * len(pos) + [0.0] * len(neg))
    x_test = films(test_pos + test_neg, "test")
    y_test = [1] * len(test_pos) + [0] * len(test_neg)
    pool_spots = [record_spots(r, [FindingSlot(args.target)]) for r in pool]  # the encoder stage's reading
    check = torch.cat([torch.arange(min(150, len(pos))), len(pos) + torch.arange(min(300, len(neg)))])
    net = probe_net()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
    print(f"{args.target}: {len(pos)} train positives, {len(neg)} negatives; test {len(test_pos)} vs "
          f"{len(test_neg)}; {'presence + location' if args.locate else 'presence only'}")
    for step in range(1, args.steps + 1):
        idx = torch.randint(len(pool), (32,), generator=g)
        images, theta = augment(x_train[idx].float(), g)
        cells = net(images)[:, 0]
        loss = F.binary_cross_entropy_with_logits(cells.flatten(1).amax(1), y_train[idx])
        if args.locate:
            # the encoder stage's own targets: cells inside a spot, moved by the augmentation
            target, known = spot_targets([pool_spots[i] for i in idx.tolist()], y_train[idx, None],
                                         torch.ones(1, dtype=torch.bool), theta, (GRID, GRID))
            per_film = F.binary_cross_entropy_with_logits(
                cells.flatten(1), target[..., 0], pos_weight=torch.tensor(GRID * GRID / 4.0), reduction="none"
            ).mean(dim=1)
            loss = loss + (per_film * known[:, 0]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps:
            train_auc = roc_auc_score(y_train[check].numpy(), scores(net, x_train[check]).numpy())
            test_auc = roc_auc_score(y_test, scores(net, x_test).numpy())
            print(f"step {step:4d}  loss {loss.item():.3f}  train AUROC {train_auc:.3f}  "
                  f"test AUROC {test_auc:.3f}", flush=True)


if __name__ == "__main__":
    main()
