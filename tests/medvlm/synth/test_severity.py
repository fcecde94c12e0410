"""Lesions follow the report's words: bigger words draw bigger lesions, uncertain or subtle ones draw
fainter; devices of every kind draw in varied positions."""

from __future__ import annotations

import numpy as np
import pytest

from medvlm.findings import Finding, Laterality, Presence
from medvlm.synth.anatomy import NEUTRAL
from medvlm.synth.atlas import Atlas
from medvlm.synth.compose import render_film
from medvlm.synth.devices import DEVICES
from medvlm.synth.film import Acquisition

PLAIN = Acquisition(equalisation=0.0, noise=0.0, blur_px=0.0)
SIZE = 128
SEEDS = range(6)
L = Laterality.LEFT


def diff(atlas: Atlas, f: Finding, seed: int, modifiers=None) -> np.ndarray:
    kw = {"size": SIZE, "atlas": atlas, "acquisition": PLAIN}
    with_f = render_film([f], seed=seed, modifiers=modifiers, **kw).pixels.astype(float)
    return with_f - render_film([], seed=seed, **kw).pixels


@pytest.mark.parametrize(
    ("small", "large", "threshold"),
    [
        (
            Finding("pleural_effusion", laterality=L, severity="small"),
            Finding("pleural_effusion", laterality=L, severity="large"),
            40,
        ),
        (
            Finding("mass", laterality=L, severity="small"),
            Finding("mass", laterality=L, severity="large"),
            40,
        ),
        (
            Finding("consolidation", laterality=L, severity="mild"),
            Finding("consolidation", laterality=L, severity="severe"),
            40,
        ),
        (
            Finding("pneumothorax", laterality=L, severity="small"),
            Finding("pneumothorax", laterality=L, severity="large"),
            40,
        ),
    ],
    ids=["effusion", "mass", "consolidation", "pneumothorax"],
)
def test_a_larger_word_covers_more_film(atlas: Atlas, small: Finding, large: Finding, threshold: float):
    area_small = [(np.abs(diff(atlas, small, s)) > threshold).sum() for s in SEEDS]
    area_large = [(np.abs(diff(atlas, large, s)) > threshold).sum() for s in SEEDS]
    assert np.mean(area_large) > 1.2 * np.mean(area_small)


def test_larger_masses_are_recorded_larger(atlas: Atlas):
    sizes = {
        sev: [
            render_film([Finding("mass", severity=sev)], seed=s, size=64, atlas=atlas).details[0]["spots"][0][
                "diameter_mm"
            ]
            for s in SEEDS
        ]
        for sev in ("small", None, "large")
    }
    assert max(sizes["small"]) < min(sizes["large"])
    assert len(set(sizes[None])) == len(SEEDS)  # continuous, not a few fixed sizes


@pytest.mark.parametrize(
    "finding",
    [
        Finding("consolidation", laterality=L, location="lower lobe"),
        Finding("lung_opacity", laterality=L, location="lower lobe", severity="moderate"),
        Finding("nodule", laterality=L),
        Finding("pulmonary_edema", severity="moderate"),
        Finding("pleural_effusion", laterality=L),
    ],
    ids=lambda f: f.label,
)
def test_uncertain_and_subtle_findings_are_fainter(atlas: Atlas, finding: Finding):
    from dataclasses import replace

    clear = [np.abs(diff(atlas, finding, s)).sum() for s in SEEDS]
    unsure = [np.abs(diff(atlas, replace(finding, presence=Presence.UNCERTAIN), s)).sum() for s in SEEDS]
    subtle = [np.abs(diff(atlas, finding, s, {finding.label: frozenset({"subtle"})})).sum() for s in SEEDS]
    assert np.mean(unsure) < 0.8 * np.mean(clear)
    assert np.mean(subtle) < 0.8 * np.mean(clear)
    assert min(unsure) > 0  # still drawn


@pytest.mark.parametrize("device", DEVICES)
def test_every_device_kind_draws_in_varied_ways(atlas: Atlas, device: str):
    variants, tips = set(), set()
    for seed in range(8):
        film = render_film(
            [Finding("support_device", location=device)],
            seed=seed,
            size=64,
            atlas=atlas,
            anatomy=NEUTRAL,
            acquisition=PLAIN,
        )
        empty = render_film([], seed=seed, size=64, atlas=atlas, anatomy=NEUTRAL, acquisition=PLAIN)
        assert np.abs(film.pixels.astype(float) - empty.pixels).max() > 100
        info = film.details[0]
        variants.add(info.get("variant"))
        tips.add(str(info.get("tip_row", info.get("tip", info.get("generator", info.get("centre"))))))
    assert len(tips) > 1  # positions vary
    if device not in ("tracheostomy",):
        assert len(variants) > 1, variants


def test_edema_patterns_follow_the_words(atlas: Atlas):
    for word in ("perihilar", "basal", "interstitial"):
        film = render_film(
            [Finding("pulmonary_edema")],
            seed=1,
            size=64,
            atlas=atlas,
            modifiers={"pulmonary_edema": frozenset({word})},
        )
        assert film.details[0]["pattern"] == word
