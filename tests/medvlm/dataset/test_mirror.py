"""Mirrored extra films: left and right swapped in the findings and the report, only where that is anatomy,
and the rare findings' extra films balanced between the sides."""

from __future__ import annotations

from collections import Counter

from medvlm.dataset.builder import _oversample, _Plan
from medvlm.dataset.mirror import can_mirror, mirrored_findings, mirrored_text
from medvlm.findings import Finding, Laterality


def _ptx(side: Laterality | None, location: str | None = "apex") -> Finding:
    return Finding("pneumothorax", laterality=side, location=location, evidence=f"Pneumothorax/{side}")


def test_left_and_right_swap_keeping_case_and_other_words() -> None:
    text = "Right apical pneumothorax. LEFT lung clear; left-sided chest tube. Trachea deviated leftward."
    assert mirrored_text(text) == (
        "Left apical pneumothorax. RIGHT lung clear; right-sided chest tube. Trachea deviated rightward."
    )
    assert mirrored_text(mirrored_text(text)) == text
    assert mirrored_text("Bright lungs, cleft, rightly so.") == "Bright lungs, cleft, rightly so."


def test_findings_move_to_the_other_side_and_bilateral_ones_stay() -> None:
    findings = [_ptx(Laterality.RIGHT), Finding("pleural_effusion", laterality=Laterality.BILATERAL),
                Finding("cardiomegaly")]
    out = mirrored_findings(findings)
    assert [f.laterality for f in out] == [Laterality.LEFT, Laterality.BILATERAL, None]
    assert out[0].evidence == "Pneumothorax/left" and out[0].location == "apex"


def test_only_reports_whose_mirror_image_is_anatomy_are_mirrored() -> None:
    right = [_ptx(Laterality.RIGHT)]
    assert can_mirror(right, "Small right apical pneumothorax.", "Right pneumothorax.")
    # Nothing on one side: mirroring would not change the film.
    assert not can_mirror([_ptx(None)], "Pneumothorax.")
    both = [Finding("pleural_effusion", laterality=Laterality.BILATERAL)]
    assert not can_mirror(both, "Bilateral effusions.")
    # Structures with no mirror image, in the text or in a finding's place.
    assert not can_mirror(right, "Right pneumothorax. Right middle lobe opacity.")
    assert not can_mirror(right, "Right pneumothorax. Line tip in the right atrium.")
    assert not can_mirror(right, "Right pneumothorax. Tortuous aorta.")
    assert not can_mirror([Finding("atelectasis", laterality=Laterality.LEFT, location="lingula")], "")


def _plan(i: int, side: Laterality) -> _Plan:
    text = f"{side.value.capitalize()} apical pneumothorax, case {i}."
    return _Plan(f"IU-{i}", "train", [_ptx(side)], text, f"{side.value} pneumothorax.", "iu", str(i))


def test_every_second_round_of_extra_films_is_mirrored_so_both_sides_are_seen() -> None:
    plans = [_plan(i, Laterality.RIGHT) for i in range(4)]
    extra = _oversample(plans, min_positives=20, mirror=True)
    sides = Counter(p.findings[0].laterality for p in [*plans, *extra])
    assert sides == {Laterality.RIGHT: 12, Laterality.LEFT: 8}
    for p in extra:
        round_ = int(p.study_id.split("-os")[1].rstrip("m"))
        assert p.mirrored == (round_ % 2 == 0) == p.study_id.endswith("m")
        if p.mirrored:
            assert p.findings_text.startswith("Left apical") and p.impression == "left pneumothorax."
    assert not any(p.mirrored for p in _oversample(plans, min_positives=20))  # off by default


def test_a_mirrored_text_that_is_a_test_reports_is_not_used(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from medvlm.dataset import builder
    from medvlm.dataset.text_overlap import normalise_text

    plans = [_plan(0, Laterality.RIGHT)]
    mirrored = mirrored_text(plans[0].findings_text), mirrored_text(plans[0].impression)
    monkeypatch.setattr(builder, "test_texts", lambda: frozenset({normalise_text(*mirrored)}))
    extra = _oversample(plans, min_positives=4, mirror=True)
    assert len(extra) == 3 and not any(p.mirrored for p in extra)
