"""Lung and heart masks drawn with the film: same pixels, the same CTR, following the anatomy and the pose."""

from __future__ import annotations

import numpy as np

from medvlm.findings import Finding, Laterality, Presence
from medvlm.synth.anatomy import measure_ctr
from medvlm.synth.atlas import Atlas
from medvlm.synth.compose import render_film
from medvlm.synth.film import Acquisition

SIZE = 160


def test_masks_leave_the_film_unchanged_and_are_off_by_default(atlas: Atlas) -> None:
    plain = render_film([], seed=11, size=SIZE, atlas=atlas)
    masked = render_film([], seed=11, size=SIZE, atlas=atlas, masks=True)
    assert plain.masks is None
    assert np.array_equal(plain.pixels, masked.pixels)
    assert masked.masks is not None and set(masked.masks) == {"lungs", "heart"}
    assert all(m.shape == (SIZE, SIZE) and m.dtype == bool for m in masked.masks.values())


def film_ctr(film) -> float:
    assert film.masks is not None
    return measure_ctr(film.masks["heart"], film.masks["lungs"])


def test_on_a_pa_film_the_masks_measure_the_drawn_ctr(atlas: Atlas) -> None:
    for seed, findings in ((1, []), (2, [Finding("cardiomegaly", Presence.PRESENT, severity="severe")])):
        film = render_film(findings, seed=seed, size=SIZE, atlas=atlas, masks=True,
                           acquisition=Acquisition(noise=0.0))
        # the recorded ctr is measured on the warped grid, before the film's resampling
        assert abs(film_ctr(film) - film.ctr) < 0.02


def test_an_ap_film_magnifies_the_heart_as_the_masks_show(atlas: Atlas) -> None:
    pa = render_film([], seed=4, size=SIZE, atlas=atlas, masks=True, acquisition=Acquisition(noise=0.0))
    ap = render_film([], seed=4, size=SIZE, atlas=atlas, masks=True,
                     acquisition=Acquisition(noise=0.0, projection="AP", magnification=1.25))
    assert ap.ctr == pa.ctr  # the same heart was drawn ...
    assert film_ctr(ap) > film_ctr(pa) + 0.03  # ... and looks larger from the front (further from the film)


def test_masks_sit_on_the_lungs_of_the_film(atlas: Atlas) -> None:
    film = render_film([], seed=5, size=SIZE, atlas=atlas, masks=True,
                       acquisition=Acquisition(noise=0.0, rotation_deg=4.0, shift_cols=20.0))
    assert film.masks is not None
    lungs, heart = film.masks["lungs"], film.masks["heart"]
    pixels = film.pixels.astype(float)
    # air is dark on a MONOCHROME2 film: the lung fields (outside the heart) are darker than the rest
    assert pixels[lungs & ~heart].mean() < pixels[~lungs].mean() - 200
    assert heart.sum() < lungs.sum() and (heart & lungs).any()  # the heart overlaps the lungs' inner edges
    shifted = render_film([], seed=5, size=SIZE, atlas=atlas, masks=True,
                          acquisition=Acquisition(noise=0.0, rotation_deg=4.0, shift_cols=-20.0))
    assert shifted.masks is not None
    cols = [np.nonzero(m["lungs"].any(axis=0))[0].mean() for m in (film.masks, shifted.masks)]
    assert cols[0] < cols[1]  # the field moved right on the patient: the lungs move left on the film


def test_each_outlined_finding_gets_a_mask_where_it_changed_the_film(atlas: Atlas) -> None:
    plain = render_film([], seed=8, size=SIZE, atlas=atlas, masks=True, acquisition=Acquisition(noise=0.0))
    effusion = render_film([Finding("pleural_effusion", Presence.PRESENT, laterality=Laterality.RIGHT)],
                           seed=8, size=SIZE, atlas=atlas, masks=True, acquisition=Acquisition(noise=0.0))
    assert plain.masks is not None and effusion.masks is not None
    assert set(plain.masks) == {"lungs", "heart"}  # nothing drawn, nothing outlined
    fluid = effusion.masks["pleural_effusion"]
    assert fluid.any() and set(effusion.masks) == {"lungs", "heart", "pleural_effusion"}
    changed = np.abs(effusion.pixels.astype(float) - plain.pixels.astype(float))
    assert changed[fluid].mean() > 3 * changed[~fluid].mean()
    rows, cols = np.nonzero(fluid)
    assert rows.mean() > SIZE / 2 and cols.mean() < SIZE / 2  # a right effusion: low, on the film's left


def test_findings_that_reshape_the_chest_are_not_outlined(atlas: Atlas) -> None:
    reshaping = [Finding("hyperinflation", Presence.PRESENT), Finding("cardiomegaly", Presence.PRESENT)]
    film = render_film(reshaping, seed=9, size=SIZE, atlas=atlas, masks=True)
    assert film.masks is not None and set(film.masks) == {"lungs", "heart"}
