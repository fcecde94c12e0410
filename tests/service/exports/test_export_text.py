"""Finding names in every export come from the ontology; a broken ontology degrades to raw labels, logged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import medvlm.ontology
from medvlm.service.exports import text


@pytest.fixture
def fresh_names() -> Iterator[None]:
    text._displays.cache_clear()
    yield
    text._displays.cache_clear()


@pytest.mark.parametrize(
    ("label", "name"),
    [("pulmonary_edema", "Pulmonary oedema / congestion"), ("pleural_effusion", "Pleural effusion"),
     ("not_in_the_ontology", "Not in the ontology")],
)
def test_names_come_from_the_ontology(fresh_names: None, label: str, name: str) -> None:
    assert text.display_name(label) == name


@pytest.mark.parametrize("content", [None, "findings: [not, a, mapping\n"], ids=["missing", "malformed"])
def test_a_broken_ontology_gives_raw_labels_and_says_why(
    fresh_names: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    content: str | None,
) -> None:
    broken = tmp_path / "ontology.yaml"
    if content is not None:
        broken.write_text(content)
    monkeypatch.setattr(medvlm.ontology, "DEFAULT_PATH", broken)
    with caplog.at_level("WARNING", logger="medvlm.service.exports.text"):
        assert text.display_name("pulmonary_edema") == "Pulmonary edema"
    assert "raw labels" in caplog.text and str(broken) in caplog.text
