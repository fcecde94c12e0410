"""Localization targets for the detail map: recorded spot positions, followed through augmentation."""

from __future__ import annotations

import math

import pytest
import torch

from medvlm.findings import Finding
from medvlm.model.configuration import slots_from_ontology
from medvlm.ontology import load_ontology
from medvlm.training.images import augment, identity_theta
from medvlm.training.localize import localization_loss, localized_slots, record_spots, spot_targets
from medvlm.training.manifest import Record

SLOTS = slots_from_ontology(load_ontology())
NAMES = [s.name for s in SLOTS]
GRAN = NAMES.index("calcified_granuloma")
NODULE = NAMES.index("nodule")


def record(spots: list[dict] | None, label: str = "calcified_granuloma", size: int = 256) -> Record:
    drawn = [] if spots is None else [{"label": label, "spots": spots}]
    return Record(
        study_id="s",
        study_instance_uid="1.2.3",
        split="train",
        files=[],
        findings=[Finding(label)],
        provenance={"size": size, "render": {"findings": drawn}},
    )


def presence(*slots: int, batch: int = 1) -> torch.Tensor:
    p = torch.zeros(batch, len(SLOTS))
    for s in slots:
        p[0, s] = 1.0
    return p


def test_record_spots_reads_pixel_positions_as_fractions() -> None:
    spots = record_spots(record([{"pixel": [63.5, 127.5, 4.0]}]), SLOTS)
    assert spots == [(GRAN, 0.25, 0.5, 4.0 / 256)]


def test_films_without_recorded_positions_give_none() -> None:
    assert record_spots(record([{"row": 10, "col": 20, "diameter_mm": 8}]), SLOTS) is None  # built before
    assert record_spots(Record("s", "1.2", "train", [], [Finding("nodule")]), SLOTS) is None  # no provenance


def test_identity_target_marks_the_cell_of_the_spot() -> None:
    spots = [[(GRAN, 0.25, 0.5, 0.0)]]  # row 1/4, col 1/2 of the film: cell (8, 16) of a 32 x 32 map
    localized = localized_slots(spots, len(SLOTS))
    targets, known = spot_targets(spots, presence(GRAN), localized, identity_theta(1), (32, 32))
    assert targets.shape == (1, 32 * 32, len(SLOTS))
    assert torch.nonzero(targets[0, :, GRAN]).flatten().tolist() == [8 * 32 + 16]
    assert bool(known[0, GRAN]) and not bool(known[0, NAMES.index("cardiomegaly")])


def test_a_large_spot_covers_the_cells_within_its_radius() -> None:
    spots = [[(NODULE, 0.5, 0.5, 3 / 32)]]  # radius three cells
    targets, _ = spot_targets(spots, presence(NODULE), localized_slots(spots, len(SLOTS)),
                              identity_theta(1), (32, 32))
    count = int(targets[0, :, NODULE].sum())
    assert abs(count - math.pi * 9) < 8


def test_the_target_follows_the_augmentation() -> None:
    """A bright pixel at the spot, augmented with the same theta, lands in the target cell."""
    size, grid = 128, 16
    g = torch.Generator().manual_seed(3)
    for trial in range(5):
        row, col = 0.3 + 0.1 * trial, 0.6 - 0.05 * trial
        image = torch.zeros(1, 1, size, size)
        r, c = int(row * size), int(col * size)
        image[0, 0, r - 1 : r + 2, c - 1 : c + 2] = 1.0
        moved, theta = augment(image, g)
        spots = [[(GRAN, (r + 0.5) / size, (c + 0.5) / size, 0.0)]]
        localized = localized_slots(spots, len(SLOTS))
        targets, _ = spot_targets(spots, presence(GRAN), localized, theta, (grid, grid))
        cell = int(torch.nonzero(targets[0, :, GRAN]).flatten()[0])
        peak = int(torch.argmax(moved[0, 0]))
        peak_row, peak_col = divmod(peak, size)
        assert abs(cell // grid - peak_row * grid // size) <= 1
        assert abs(cell % grid - peak_col * grid // size) <= 1


def test_positive_films_without_positions_are_not_known() -> None:
    spots = [[(GRAN, 0.5, 0.5, 0.0)], None, None]
    p = torch.zeros(3, len(SLOTS))
    p[0, GRAN] = p[1, GRAN] = 1.0  # film 1 has a granuloma but no recorded position; film 2 has none
    _, known = spot_targets(spots, p, localized_slots(spots, len(SLOTS)), identity_theta(3), (8, 8))
    assert known[:, GRAN].tolist() == [True, False, True]


def test_loss_is_lower_when_the_map_points_at_the_spot() -> None:
    spots = [[(GRAN, 0.5, 0.5, 0.0)]]
    targets, known = spot_targets(spots, presence(GRAN), localized_slots(spots, len(SLOTS)),
                                  identity_theta(1), (8, 8))
    wrong = torch.full((1, 64, len(SLOTS)), -4.0)
    right = wrong.clone()
    right[0, 4 * 8 + 4, GRAN] = 4.0
    assert float(localization_loss(right, targets, known)) < float(localization_loss(wrong, targets, known))
    assert float(localization_loss(right, targets, torch.zeros_like(known))) == pytest.approx(0.0)


def test_encoder_loss_adds_the_weighted_localization_term() -> None:
    """The stage module's encoder loss = presence loss + localize x the detail map's localization loss."""
    from medvlm.model import build_model
    from medvlm.training.examples import findings_targets
    from medvlm.training.stage import StageModule

    bundle = build_model("micro", load_ontology(), seed=0)
    bundle.model.train()
    bundle.head.train()
    records = [record([{"pixel": [20.0, 40.0, 3.0]}], label="nodule", size=64), record([], label="nodule")]
    records[1].findings = []
    spots = [record_spots(r, SLOTS) for r in records]
    payload = {**findings_targets(records, SLOTS), "spots": spots, "theta": identity_theta(2)}
    images = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    module = StageModule(bundle)
    module.localized = localized_slots(spots, len(SLOTS))
    torch.manual_seed(0)
    plain = module("encoder", images, payload, 4)
    module.localize = 2.0
    torch.manual_seed(0)
    weighted = module("encoder", images, payload, 4)
    with torch.no_grad():
        _, detail = bundle.vision_features(bundle.pixel_values(images))
        targets, known = spot_targets(spots, payload["presence"], module.localized, identity_theta(2),
                                      tuple(detail.shape[-2:]))
        expected = localization_loss(bundle.head.detail_logits(detail), targets, known)
    assert float(expected) > 0
    assert float((weighted - plain).detach()) == pytest.approx(2.0 * float(expected), rel=1e-4)
