"""Per-patient anatomy: every synthetic patient differs, normal hearts vary but stay normal, an enlarged
heart stays enlarged, and recorded positions follow the warp."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from medvlm.findings import Finding, Laterality, Presence
from medvlm.synth.anatomy import NEUTRAL, NORMAL_CTR, Anatomy, build_warp, landmarks
from medvlm.synth.atlas import Atlas
from medvlm.synth.compose import fit_anatomy, render_film
from medvlm.synth.errors import SynthError
from medvlm.synth.film import Acquisition

PLAIN = Acquisition(equalisation=0.0, noise=0.0, blur_px=0.0)
SIZE = 128


def test_same_seed_same_patient(atlas: Atlas):
    a = render_film([Finding("nodule")], seed=5, size=SIZE, atlas=atlas)
    b = render_film([Finding("nodule")], seed=5, size=SIZE, atlas=atlas)
    assert np.array_equal(a.pixels, b.pixels) and a.render_info() == b.render_info()
    assert a.render_info()["anatomy"]["thorax_width"] != 1.0


def test_two_patients_have_different_bases(atlas: Atlas):
    films = [render_film([], seed=s, size=SIZE, atlas=atlas, acquisition=PLAIN) for s in (1, 2)]
    assert films[0].anatomy != films[1].anatomy
    diff = np.abs(films[0].pixels.astype(float) - films[1].pixels.astype(float))
    assert diff.mean() > 40  # whole-film change, not noise (the acquisition is fixed and noiseless)
    neutral = render_film([], seed=1, size=SIZE, atlas=atlas, acquisition=PLAIN, anatomy=NEUTRAL)
    assert np.abs(films[0].pixels.astype(float) - neutral.pixels).mean() > 40


@pytest.mark.parametrize("heart_scale", [0.55, 0.7, 1.0, 1.3])
def test_a_wide_ct_heart_drawn_small_or_large_leaves_the_chest_wall_in_place(atlas: Atlas,
                                                                             heart_scale: float):
    """A CT's heart may be as wide as a cardiomegaly (the derived hearts were, CTR ~0.6, before they were
    bounded by an ellipsoid): a normal film scales it down hard. The lung takes up the difference; the body
    outline stays and the field does not fold."""
    lm = landmarks(atlas)
    wide = (lm.base_row - 120.0, lm.mid_col + 20.0, 75.0, 0.62 * lm.half_width)
    warp = build_warp(atlas, replace(NEUTRAL, heart_scale=heart_scale, heart_left=1.05), wide)
    drawn = warp.apply(atlas["base"])
    inside_body = lm.body > 0.5
    assert ((drawn < 0.3) & inside_body).mean() < 0.002  # no body pulled in, leaving air inside it
    assert warp.cols is not None and (np.diff(warp.cols, axis=1) > 0).all()  # monotone across: no fold
    wall = np.abs(np.arange(drawn.shape[1]) - lm.mid_col) > 1.1 * lm.half_width
    rows = slice(int(wide[0] - 60), int(wide[0] + 60))
    assert np.abs(drawn[rows][:, wall] - atlas["base"][rows][:, wall]).mean() < 0.05 * atlas["base"].max()


def test_normal_hearts_vary_and_stay_normal(atlas: Atlas):
    ctrs = [render_film([], seed=s, size=64, atlas=atlas).ctr for s in range(24)]
    assert max(ctrs) <= NORMAL_CTR[1] + 0.005
    assert min(ctrs) >= NORMAL_CTR[0] - 0.01
    assert np.std(ctrs) > 0.015


@pytest.mark.parametrize(
    ("finding", "low", "high"),
    [
        (Finding("cardiomegaly"), 0.515, 0.63),
        (Finding("cardiomegaly", severity="mild"), 0.515, 0.59),
        (Finding("cardiomegaly", severity="severe"), 0.62, 0.73),
        (Finding("cardiomegaly", severity="borderline"), 0.495, 0.56),
        (Finding("cardiomegaly", Presence.UNCERTAIN), 0.495, 0.55),
    ],
)
def test_enlarged_hearts_are_drawn_in_their_range(atlas: Atlas, finding: Finding, low: float, high: float):
    for seed in range(8):
        film = render_film([finding], seed=seed, size=64, atlas=atlas)
        assert low <= film.ctr <= high, (seed, film.ctr)
        # the recorded CTR is the one measured on the drawn (warped) heart, close to the one asked for
        assert film.details[0]["ctr"] == round(film.ctr, 3)
        assert abs(film.ctr - film.details[0]["target_ctr"]) < 0.02


def test_spot_positions_follow_the_warp(atlas: Atlas):
    """A strongly shifted, widened patient: the recorded spot is where the film changed, and not where
    the same spot lands on the atlas patient."""
    body = replace(Anatomy.sample(np.random.default_rng(0)), shift_px=30.0, thorax_width=1.12)
    f = [Finding("mass", laterality=Laterality.LEFT, location="lower lobe")]
    drawn = render_film(f, seed=2, size=256, atlas=atlas, acquisition=PLAIN, anatomy=body)
    empty = render_film([], seed=2, size=256, atlas=atlas, acquisition=PLAIN, anatomy=body)
    flat = render_film(f, seed=2, size=256, atlas=atlas, acquisition=PLAIN, anatomy=NEUTRAL)
    row, col, _ = drawn.details[0]["spots"][0]["pixel"]
    diff = drawn.pixels.astype(float) - empty.pixels
    r, c = round(row), round(col)
    assert diff[r, c] > 0.5 * diff.max()
    _, f_col, _ = flat.details[0]["spots"][0]["pixel"]
    assert abs(f_col - col) > 3  # the warp moved it


def test_warp_point_inverts_the_warp(atlas: Atlas):
    body = replace(Anatomy.sample(np.random.default_rng(3)), shift_px=20.0, heart_scale=1.08)
    warp = build_warp(atlas, body, (215.0, 283.0, 80.0, 95.0))
    for src in [(120.0, 150.0), (300.0, 330.0), (250.0, 260.0)]:
        spike = np.zeros_like(atlas["base"])
        spike[int(src[0]), int(src[1])] = 1.0
        spike = ndimage.gaussian_filter(spike, 3.0)
        moved = warp.apply(spike)
        peak = np.unravel_index(np.argmax(moved), moved.shape)
        row, col = warp.point(*src)
        assert abs(peak[0] - row) <= 1.5 and abs(peak[1] - col) <= 1.5


@pytest.mark.parametrize("name", ["thorax_width", "heart_scale", "inspiration"])
def test_a_folding_anatomy_is_refused(atlas: Atlas, name: str):
    with pytest.raises(SynthError, match=name):
        build_warp(atlas, replace(NEUTRAL, **{name: 3.0}), (215.0, 283.0, 80.0, 95.0))


@pytest.mark.parametrize("target", [0.2, 0.95])
def test_a_ctr_the_warp_cannot_reach_is_drawn_as_near_as_it_can(atlas: Atlas, target: float):
    """A CT heart far from the asked CTR (a small target on a patient with a large heart) once made the
    fitted scale leave the fold-free range and stopped a whole build; now the nearest drawable heart."""
    patient = replace(Anatomy.sample(np.random.default_rng(3)), target_ctr=target)
    fitted, _, ctr, _ = fit_anatomy(atlas, patient, target)
    assert 0.5 < fitted.heart_scale < 2.0
    assert (ctr > target) if target < 0.3 else (ctr < target)
