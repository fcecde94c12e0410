"""The finding ontology: the shipped file loads; a malformed file is refused naming the finding and key."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from medvlm.errors import ConfigError
from medvlm.findings import Finding, Laterality, Presence
from medvlm.ontology import DEFAULT_PATH, load_ontology, merge_laterality, parse_ontology

REQUIRED_NAMES = [
    "no_finding",
    "cardiomegaly",
    "pleural_effusion",
    "pneumothorax",
    "consolidation",
    "lung_opacity",
    "atelectasis",
    "pulmonary_edema",
    "nodule",
    "mass",
    "calcified_granuloma",
    "hyperinflation",
    "support_device",
    "fracture",
]


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_PATH.read_text())


def test_shipped_ontology_has_the_required_findings_in_order() -> None:
    onto = load_ontology()
    assert onto.names[: len(REQUIRED_NAMES)] == REQUIRED_NAMES
    assert load_ontology() is onto  # cached
    effusion = onto.get("pleural_effusion")
    assert effusion.lateralities == ["left", "right", "bilateral"]
    assert effusion.severities == ["small", "moderate", "large"]
    assert "Pleural Effusion" in effusion.mesh
    assert onto.get("support_device").locations  # device types as locations
    assert onto.get("fracture").renderable is False


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(KeyError, match="cardiomegaly"):
        load_ontology().get("pneumonitis")


@pytest.mark.parametrize(
    ("label", "presence", "severity", "critical"),
    [
        ("pneumothorax", Presence.PRESENT, None, True),
        ("pneumothorax", Presence.UNCERTAIN, "small", True),
        ("pneumothorax", Presence.ABSENT, None, False),
        ("pleural_effusion", Presence.PRESENT, "large", True),
        ("pleural_effusion", Presence.PRESENT, "small", False),
        ("pleural_effusion", Presence.PRESENT, None, False),
        ("cardiomegaly", Presence.PRESENT, "severe", False),
        ("mass", Presence.PRESENT, None, True),
    ],
)
def test_is_critical(label: str, presence: Presence, severity: str | None, critical: bool) -> None:
    onto = load_ontology()
    finding = Finding(label=label, presence=presence, severity=severity)
    assert onto.get(label).is_critical(finding) is critical
    assert onto.is_critical(finding) is critical


def test_render_fills_placeholders_and_drops_empty_ones() -> None:
    spec = load_ontology().get("pleural_effusion")
    assert (
        spec.render(Presence.PRESENT, laterality=Laterality.LEFT.value, severity="small")
        == "Small left pleural effusion."
    )
    assert spec.render(Presence.PRESENT) == "Pleural effusion."
    assert spec.render(Presence.ABSENT) == "No pleural effusion."


def test_a_severity_before_a_participle_is_an_adverb() -> None:
    """Drafts said "The heart is mild enlarged." (the template put the scale's adjective before a
    participle)."""
    onto = load_ontology()
    cardiomegaly = onto.get("cardiomegaly").render(Presence.PRESENT, severity="moderate")
    assert cardiomegaly == "The heart is moderately enlarged."
    for name in onto.names:
        spec = onto.get(name)
        for severity in set(spec.severities) - {"borderline"}:  # "borderline enlarged" is how reports say it
            for index in range(len(spec.phrases.get("present", []))):
                words = spec.render(Presence.PRESENT, severity=severity, index=index).rstrip(".").split()
                for word, after in itertools.pairwise(words):
                    assert not (word.lower() == severity and after.endswith("ed")), (name, severity, words)


def _mutate(raw: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["findings", "cardiomegaly", "colour"], "red", r"finding 'cardiomegaly' has unknown key 'colour'"),
        (
            ["findings", "pneumothorax", "severities"],
            _DELETE,
            r"finding 'pneumothorax' is missing required key "
            r"'severities'",
        ),
        (["findings", "nodule", "lateralities"], ["up"], r"finding 'nodule' key 'lateralities' has 'up'"),
        (
            ["findings", "nodule", "locations"],
            ["kidney"],
            r"finding 'nodule' key 'locations' has unknown location",
        ),
        (
            ["findings", "pleural_effusion", "critical_severities"],
            ["huge"],
            r"finding 'pleural_effusion' key 'critical_severities' has 'huge'",
        ),
        (["findings", "mass", "critical"], "yes", r"finding 'mass' key 'critical' must be true or false"),
        (
            ["findings", "mass", "phrases"],
            {"present": ["{side} mass."]},
            r"finding 'mass' key 'phrases.present'",
        ),
        (["findings", "mass", "synonyms"], "mass", r"finding 'mass' key 'synonyms' must be a list"),
        (
            ["findings", "cardiomegaly", "patterns"],
            ["(heart"],
            r"finding 'cardiomegaly' key 'patterns' has an invalid",
        ),
        (["findings", "no_finding"], _DELETE, r"must include 'no_finding'"),
        (["version"], 2, r"unknown top-level key 'version'"),
        (["severity_words"], _DELETE, r"missing top-level key 'severity_words'"),
        (["findings", "lung_opacity", "absent_implies"], ["pneumonia"], r"'absent_implies' names unknown"),
        (["normal_statements"], {"absent": ["mass"]}, r"normal_statements must be a list"),
        (["normal_statements"], [{"absent": ["tumour"], "phrases": ["x"]}], r"unknown finding 'tumour'"),
        (["normal_statements"], [{"absent": ["mass"]}], r"normal_statements\[0\] needs 'phrases' or"),
        (["normal_statements"], [{"phrases": ["x"]}], r"normal_statements\[0\] must map 'absent'"),
        (
            ["normal_statements"],
            [{"absent": ["mass"], "patterns": ["(x"]}],
            r"normal_statements\[0\] key 'patterns' has an invalid",
        ),
    ],
)
def test_invalid_ontology_is_refused(raw: dict[str, Any], path: list[str], value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_ontology(_mutate(raw, path, value))


@pytest.mark.parametrize(
    ("content", "message"), [("findings: [a\n", "not valid YAML"), (None, "cannot read")]
)
def test_unreadable_file_is_a_config_error(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "ontology.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_ontology(path)


@pytest.mark.parametrize(
    ("a", "b", "worse"),
    [("small", "large", "large"), ("large", "small", "large"), ("moderate", None, "moderate"),
     (None, "small", "small"), (None, None, None), ("small", "small", "small")],
)
def test_worse_severity_follows_the_scale(a: str | None, b: str | None, worse: str | None) -> None:
    assert load_ontology().get("pleural_effusion").worse_severity(a, b) == worse


L = Laterality


@pytest.mark.parametrize(
    ("a", "b", "merged"),
    [(L.LEFT, L.LEFT, L.LEFT), (L.LEFT, L.RIGHT, L.BILATERAL), (None, L.RIGHT, L.RIGHT),
     (L.BILATERAL, L.LEFT, L.BILATERAL), (None, None, None)],
)
def test_merge_laterality(a: Laterality | None, b: Laterality | None, merged: Laterality | None) -> None:
    assert merge_laterality(a, b) == merged


def test_with_critical_is_set_by_the_ontology() -> None:
    spec = load_ontology().get("pleural_effusion")
    assert "large" in spec.critical_severities and "small" not in spec.critical_severities
    large = spec.with_critical(Finding("pleural_effusion", Presence.PRESENT, severity="large"))
    small = spec.with_critical(Finding("pleural_effusion", Presence.PRESENT, severity="small", critical=True))
    assert (large.critical, small.critical) == (True, False)
