"""Finding's JSON form: nothing unset is written, and no real value is dropped."""

from __future__ import annotations

import pytest

from medvlm.findings import Finding, Presence


@pytest.mark.parametrize("probability", [0.0, 0, 1.0, 0.5])
def test_to_dict_keeps_every_probability(probability: float) -> None:
    data = Finding("pneumothorax", Presence.ABSENT, probability=probability).to_dict()
    assert data["probability"] == probability
    assert Finding.from_dict(data).probability == probability


def test_to_dict_leaves_out_unset_values() -> None:
    assert Finding("nodule").to_dict() == {"label": "nodule", "presence": "present"}
