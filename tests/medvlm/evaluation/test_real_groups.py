"""Real films by view and source: shares per group, small and lone groups left out."""

from __future__ import annotations

from medvlm.evaluation.real_groups import by_group, film_groups, group_lines


def test_groups_come_from_the_labels_columns_and_blanks_name_none() -> None:
    assert film_groups({"view": "AP Supine ", "source": "hannover", "id": "x"}) == {
        "view": "AP Supine", "source": "hannover"}
    assert film_groups({"view": "", "source": None}) == {}


def test_shares_per_group() -> None:
    groups = [{"view": "PA", "source": "a"}] * 4 + [{"view": "AP Supine", "source": "a"}] * 4 + [{}] * 3
    unfamiliar = [False, False, False, True] + [True, True, True, False] + [True] * 3
    normal = [True, True, False, False] + [False] * 4 + [True] * 3
    by = by_group(groups, unfamiliar, normal, min_films=4)
    assert set(by) == {"view"}  # one source: nothing to compare; the three unlabelled films in no group
    assert by["view"]["PA"] == {"films": 4, "unfamiliar": 0.25, "drafted_normal": 0.5}
    assert by["view"]["AP Supine"] == {"films": 4, "unfamiliar": 0.75, "drafted_normal": 0.0}
    assert group_lines(by) == ["by view (films, unfamiliar, drafted normal): AP Supine 4, 0.75, 0.00; "
                               "PA 4, 0.25, 0.50"]
    assert by_group(groups, unfamiliar, normal) == {}  # below the default of ten films a group
