"""input_stats.zone_means: the zones land where a frontal film's lungs, mediastinum and right base are."""

from __future__ import annotations

import numpy as np

from medvlm.imaging.input_stats import ZONES, zone_means


def test_each_zone_reads_its_own_part_of_the_film() -> None:
    h, w = 320, 256  # not square: zones are fractions of each side
    film = np.zeros((h, w), dtype=np.float32)
    for value, (r0, r1, c0, c1) in enumerate(ZONES.values(), start=1):
        film[int(r0 * h) : int(r1 * h), int(c0 * w) : int(c1 * w)] = value
    assert zone_means(film) == {name: float(i) for i, name in enumerate(ZONES, start=1)}


def test_a_darker_right_lung_shows_in_the_right_zone_only() -> None:
    film = np.full((256, 256), 0.5, dtype=np.float32)
    film[64:160, 31:108] = 0.2  # the viewer's left: the patient's right lung field
    zones = zone_means(film)
    assert zones["right lung"] < 0.25
    assert zones["left lung"] == zones["mediastinum"] == zones["right base"] == 0.5
