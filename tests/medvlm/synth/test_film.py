"""develop(): projections differ as they should, physics and processing behave, labels land right."""

from __future__ import annotations

import numpy as np
import pytest

from medvlm.synth import detector
from medvlm.synth.acquisition import PROCESSING, PROJECTIONS, SCATTER_MODELS, Acquisition
from medvlm.synth.atlas import Atlas
from medvlm.synth.compose import render_film
from medvlm.synth.film import MAX_VALUE, develop, film_point, sample_grid

SIZE = 256
PLAIN = Acquisition(equalisation=0.0, blur_px=0.0)


def apex(atlas: Atlas) -> float:
    return float(np.nonzero((atlas.lung() > 0).any(axis=1))[0].min())


def plain(atlas: Atlas, acq: Acquisition, seed: int = 0, projection: np.ndarray | None = None) -> np.ndarray:
    p = atlas["base"] if projection is None else projection
    return develop(p, acq, SIZE, apex(atlas), np.random.default_rng(seed)).astype(np.float64)


def widest(mask: np.ndarray) -> int:
    cols = [np.nonzero(row)[0] for row in mask]
    return max((int(c.max() - c.min() + 1) for c in cols if c.size), default=0)


def on_film(atlas: Atlas, name: str, acq: Acquisition) -> np.ndarray:
    rr, cc = sample_grid(acq, SIZE, apex(atlas))
    grid = atlas[name] if name != "lung" else atlas.lung()
    rr = np.clip(np.rint(rr).astype(int), 0, grid.shape[0] - 1)
    cc = np.clip(np.rint(cc).astype(int), 0, grid.shape[1] - 1)
    return grid[rr, cc] > 0


@pytest.mark.parametrize("projection", PROJECTIONS)
def test_each_projection_renders_deterministically(atlas: Atlas, projection: str) -> None:
    # LL runs on the frontal atlas here: develop must hold no left/right rule that breaks on a lateral.
    acq = Acquisition.sample(np.random.default_rng(7), projection)
    a = render_film([], seed=7, size=SIZE, atlas=atlas, acquisition=acq)
    b = render_film([], seed=7, size=SIZE, atlas=atlas, acquisition=acq)
    c = render_film([], seed=8, size=SIZE, atlas=atlas, acquisition=acq)
    assert a.pixels.dtype == np.uint16 and a.pixels.shape == (SIZE, SIZE) and a.pixels.max() <= MAX_VALUE
    assert np.array_equal(a.pixels, b.pixels) and not np.array_equal(a.pixels, c.pixels)
    assert a.pixels.std() > 300  # a picture, not a flat field
    assert a.acquisition.projection == projection


@pytest.mark.parametrize("magnification", [1.1, 1.15, 1.2])
def test_ap_magnifies_the_heart_more_than_the_chest(atlas: Atlas, magnification: float) -> None:
    pa = Acquisition()
    ap = pa.with_(projection="AP", magnification=magnification)
    heart = widest(on_film(atlas, "struct_heart", ap)) / widest(on_film(atlas, "struct_heart", pa))
    chest = widest(on_film(atlas, "lung", ap)) / widest(on_film(atlas, "lung", pa))
    assert heart > 1 + 0.6 * (magnification - 1)
    assert chest < 1 + 0.5 * (magnification - 1)


def test_sampled_ap_heart_is_wider_than_pa_on_the_same_seed(atlas: Atlas) -> None:
    for seed in range(4):
        pa = Acquisition.sample(np.random.default_rng(seed), "PA")
        ap = pa.with_(projection="AP", magnification=1.15)
        assert widest(on_film(atlas, "struct_heart", ap)) > widest(on_film(atlas, "struct_heart", pa))


@pytest.mark.parametrize("projection", ["AP", "AP_SUPINE"])
def test_film_point_inverts_the_magnified_pose(atlas: Atlas, projection: str) -> None:
    acq = Acquisition.sample(np.random.default_rng(3), projection)
    rr, cc = sample_grid(acq, SIZE, apex(atlas))
    for r, c in [(40, 60), (128, 128), (150, 170), (220, 30)]:
        row, col = film_point(acq, SIZE, apex(atlas), float(rr[r, c]), float(cc[r, c]))
        assert (row, col) == pytest.approx((r, c), abs=0.05)


def test_quantum_noise_grows_as_dose_falls_and_where_fewer_photons_arrive(atlas: Atlas) -> None:
    flat = np.full_like(atlas["base"], 10.0)
    flat[:, 256:] = 28.0  # a lung-like half and a mediastinum-like half
    noise = {}
    for dose in (3e3, 3e4, 3e5):
        acq = PLAIN.with_(dose=dose)
        img = plain(atlas, acq, projection=flat)
        noise[dose] = (img[20:-20, 20:100].std(), img[20:-20, -100:-20].std())
    assert noise[3e3][0] > noise[3e4][0] > noise[3e5][0] > 0
    assert noise[3e3][1] > noise[3e4][1] > noise[3e5][1]
    for thin, thick in noise.values():
        assert thick > 2 * thin  # Poisson: the relative error grows as the signal falls


@pytest.mark.parametrize("model", SCATTER_MODELS)
def test_scatter_lowers_contrast_behind_the_mediastinum(atlas: Atlas, model: str) -> None:
    heart = on_film(atlas, "struct_heart", PLAIN)
    lung = on_film(atlas, "lung", PLAIN) & ~heart
    contrast = [
        (img[heart].mean() - img[lung].mean())
        for img in (plain(atlas, PLAIN.with_(scatter=s, scatter_model=model)) for s in (0.0, 0.3, 1.0))
    ]
    assert contrast[0] > contrast[1] > contrast[2] > 0


def test_depth_scatter_is_small_in_the_lungs_and_dominant_behind_the_mediastinum() -> None:
    flat = np.full((256, 256), 10.0, dtype=np.float32)
    flat[:, 128:] = 28.0  # a lung-like half and a mediastinum-like half (cm water)
    primary = np.exp(-detector.MU_WATER * flat)
    with_grid = Acquisition(scatter=0.2, scatter_model="depth")
    ratio = detector._scatter(primary, with_grid) / primary
    assert 0.03 < ratio[:, 10:60].mean() < 0.3  # lung, with a grid: scatter-to-primary ~0.1
    assert 0.5 < ratio[:, -60:-10].mean() < 3.0  # behind 28 cm of water: ~1-2
    without_grid = detector._scatter(primary, with_grid.with_(scatter=0.8)) / primary
    assert without_grid[:, 10:60].mean() > 3 * ratio[:, 10:60].mean()


def test_compression_evens_the_large_scale_where_the_unsharp_mask_keeps_it() -> None:
    step = np.full((256, 256), 0.25, dtype=np.float32)
    step[:, 128:] = 0.75
    far = (slice(None), slice(8, 40)), (slice(None), slice(-40, -8))
    spread = {}
    for processing in PROCESSING:
        acq = Acquisition(processing=processing, equalisation=0.8, blur_px=0.0, gamma=1.0)
        out = detector.process(step, acq)
        spread[processing] = out[far[1]].mean() - out[far[0]].mean()
    assert spread["unsharp"] == pytest.approx(0.5, abs=0.05)
    assert spread["compress"] < 0.4


def test_a_short_shoulder_slope_shows_more_air_beside_the_neck(atlas: Atlas) -> None:
    tall = PLAIN.with_(headroom_mm=60.0)
    top = [plain(atlas, tall.with_(shoulder_px=px))[: SIZE // 10].mean() for px in (35.0, 70.0)]
    assert top[0] < top[1]  # bone bright: air is dark


@pytest.mark.parametrize(
    ("projection", "marker", "side"),
    [("PA", "L", "right"), ("PA", "R", "left"), ("AP", "L", "right"), ("AP_SUPINE", "R", "left"),
     ("LL", "L", "left")],
)
def test_side_marker_lands_on_the_expected_side(
    atlas: Atlas, projection: str, marker: str, side: str
) -> None:
    acq = PLAIN.with_(projection=projection)
    diff = np.abs(plain(atlas, acq.with_(marker=marker)) - plain(atlas, acq))
    cols = np.nonzero(diff.max(axis=0) > 200)[0]
    assert cols.size > 3
    assert (cols.max() < SIZE / 4) if side == "left" else (cols.min() > 3 * SIZE / 4)


@pytest.mark.parametrize("collimation", [(0.0, 0.0, 0.0, 0.0), (0.1, 0.0, 0.1, 0.0)])
def test_burnt_in_text_is_drawn_at_the_top_and_shows(atlas: Atlas, collimation) -> None:
    acq = PLAIN.with_(collimation=collimation)
    diff = np.abs(plain(atlas, acq.with_(text="AP SUPINE")) - plain(atlas, acq))
    rows = np.nonzero(diff.max(axis=1) > 1000)[0]  # white on dark, or black on a white border
    assert rows.size > 3 and rows.max() < SIZE / 8


@pytest.mark.parametrize(("black", "tilt"), [(False, 0.0), (True, 0.0), (False, 3.0)])
def test_collimation_leaves_borders(atlas: Atlas, black: bool, tilt: float) -> None:
    acq = PLAIN.with_(collimation=(0.1, 0.08, 0.12, 0.06), shutter_black=black, collimation_tilt_deg=tilt)
    img, open_ = plain(atlas, acq), plain(atlas, PLAIN)
    border = np.concatenate([img[:10].ravel(), img[-8:].ravel(), img[:, :15].ravel(), img[:, -6:].ravel()])
    expected = 0.0 if black else 0.93 * MAX_VALUE
    assert abs(np.median(border) - expected) < 0.03 * MAX_VALUE
    centre = slice(SIZE // 3, 2 * SIZE // 3)
    assert np.array_equal(img[centre, centre], open_[centre, centre])


def test_coverage_keeps_the_field_inside_the_ct(atlas: Atlas) -> None:
    coverage = np.ones_like(atlas["base"])
    coverage[:60] = 0.0  # say the CT starts 60 rows lower
    img = develop(atlas["base"], PLAIN, SIZE, apex(atlas), np.random.default_rng(0), coverage=coverage)
    rr, _cc = sample_grid(PLAIN, SIZE, apex(atlas))
    hidden = rr.max(axis=1) < 58
    assert hidden.any()
    assert np.all(np.abs(img[hidden].astype(float) - 0.93 * MAX_VALUE) < 0.1 * MAX_VALUE)
    assert img[SIZE // 2].std() > 100  # the covered part is still a picture
    no_coverage = develop(atlas["base"], PLAIN, SIZE, apex(atlas), np.random.default_rng(0))
    assert np.array_equal(no_coverage, plain(atlas, PLAIN).astype(np.uint16))


def test_grid_lines_are_a_fine_periodic_pattern(atlas: Atlas) -> None:
    flat = np.full_like(atlas["base"], 15.0)
    acq = PLAIN.with_(grid_lines=0.01, grid_period_px=3.0)
    diff = plain(atlas, acq, projection=flat) - plain(atlas, PLAIN, projection=flat)
    spectrum = np.abs(np.fft.rfft(diff.mean(axis=0)))
    assert abs(int(np.argmax(spectrum)) - SIZE / 3.0) <= 1
