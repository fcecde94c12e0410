"""The outliner: its shapes, the CTR measured on outlines, finding scores, and the loss it learns from."""

from __future__ import annotations

import numpy as np
import torch

from medvlm.dataset.masks import CHANNELS, ORGANS
from medvlm.model.outlines import OutlineNet, finding_scores, largest_part, measured_ctr
from medvlm.synth.anatomy import measure_ctr
from medvlm.training.outlines import fit_outlines, outline_loss, warp_masks


def chest(heart_half_width: int, size: int = 64) -> np.ndarray:
    """(CHANNELS, size, size) masks: two lungs 40 px across in all, a heart of the given half width."""
    masks = np.zeros((len(CHANNELS), size, size), bool)
    masks[0, 10:50, 12:30] = masks[0, 10:50, 34:52] = True
    masks[1, 30:48, 32 - heart_half_width : 32 + heart_half_width] = True
    return masks


def test_the_net_outputs_one_map_per_channel_at_any_input_size() -> None:
    net = OutlineNet(width=4, size=32).eval()
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, len(CHANNELS), 32, 32)
    p = net.probabilities(torch.rand(3, 1, 96, 96))  # resized to the net's size first
    assert p.shape == (3, len(CHANNELS), 32, 32) and 0 <= float(p.min()) <= float(p.max()) <= 1


def test_the_ctr_is_measured_with_the_renderers_definition() -> None:
    masks = chest(10)
    assert measured_ctr(masks) == measure_ctr(masks[1], masks[0]) == 20 / 40
    speck = chest(10)
    speck[1, 5, 60] = True  # a stray pixel far out would widen the heart's widest row: it is dropped
    assert measured_ctr(speck) == 0.5
    empty = chest(10)
    empty[1] = False
    assert measured_ctr(empty) is None


def test_largest_part_keeps_the_biggest_pieces() -> None:
    mask = np.zeros((10, 10), bool)
    mask[0:4, 0:4] = mask[6:9, 6:9] = mask[0, 9] = True
    assert largest_part(mask).sum() == 16
    assert largest_part(mask, keep=2).sum() == 25


def test_finding_scores_read_the_most_certain_pixels_of_each_finding() -> None:
    p = torch.zeros(2, len(CHANNELS), 64, 64)
    effusion = CHANNELS.index("pleural_effusion")
    p[0, effusion, 50:60, 5:15] = 0.9  # 100 pixels: more than the top share of 64 x 64
    scores = finding_scores(p, CHANNELS)
    assert set(scores) == set(CHANNELS) - set(ORGANS)
    assert scores["pleural_effusion"][0] > 0.89 and scores["pleural_effusion"][1] == 0.0


def test_the_loss_counts_dice_only_where_something_was_drawn() -> None:
    target = torch.zeros(1, 2, 8, 8)
    logits = torch.full((1, 2, 8, 8), -8.0)
    assert float(outline_loss(logits, target)) < 0.01  # nothing drawn, nothing predicted
    target[0, 0, 2:5, 2:5] = 1
    assert float(outline_loss(logits, target)) > 0.9  # missed: the Dice term counts it


def test_masks_move_with_their_images() -> None:
    masks = torch.zeros(1, 1, 16, 16)
    masks[0, 0, 4:8, 4:8] = 1
    shift = torch.tensor([[[1.0, 0.0, 0.25], [0.0, 1.0, 0.0]]])  # sample 2 px to the right
    moved = warp_masks(masks, shift)
    assert moved[0, 0, 4:8, 2:6].mean() > 0.9 and moved[0, 0, 4:8, 6:8].mean() < 0.1


def test_a_short_fit_learns_to_outline_hearts() -> None:
    g = torch.Generator().manual_seed(0)
    masks = np.stack([chest(int(w)) for w in torch.randint(6, 14, (24,), generator=g)])
    images = torch.from_numpy(0.2 + 0.5 * masks[:, 1:2].astype(np.float32) + 0.1 * masks[:, :1])
    images = images + 0.02 * torch.randn(images.shape, generator=g)
    target = torch.from_numpy(masks[:, :2].astype(np.float32))
    net, losses = fit_outlines(images, target, steps=150, batch=8, lr=5e-3, width=4, channels=ORGANS,
                               progress=False)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    outlined = (net.probabilities(images[:4]) > 0.5).numpy()
    truth = [measured_ctr(m) for m in masks[:4]]
    measured = [measured_ctr(m, ORGANS) for m in outlined]
    assert all(m is not None and abs(m - t) < 0.1 for m, t in zip(measured, truth, strict=True))
