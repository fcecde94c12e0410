"""The labeler on hand-written sentences (``data/sentences.txt``, >= 300, kept out of training): global
normal statements, normal phrasings, hedges, airspace disease, severity and change words.

Scored per (sentence, finding): the finding's state (present / absent / uncertain / not mentioned) and
every attribute the line asks for must match; findings the line does not list must not be read at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from medvlm.findings import NO_FINDING, Finding
from medvlm.labeler import label_report
from medvlm.ontology import load_ontology

DATA = Path(__file__).parent / "data" / "sentences.txt"
SHORT = {
    "cm": "cardiomegaly", "eff": "pleural_effusion", "ptx": "pneumothorax", "cons": "consolidation",
    "op": "lung_opacity", "atel": "atelectasis", "edema": "pulmonary_edema", "nod": "nodule", "mass": "mass",
    "gran": "calcified_granuloma", "hyper": "hyperinflation", "dev": "support_device", "fx": "fracture",
}
GROUPS = {
    "ACUTE": ["ptx", "eff", "cons", "op", "edema"],
    "NORMAL": ["ptx", "eff", "cons", "op", "edema", "cm"],
    "LUNGS": ["cons", "op", "edema"],
    "PLEURA": ["eff", "ptx"],
}
STATES = {"P": "present", "A": "absent", "U": "uncertain"}
SIDES = {"left", "right", "bilateral"}
CHANGES = {"new", "worsened", "improved", "unchanged", "resolved"}
# What the set must reach. Before the issue #22 changes the labeler scored 0.526 on states (global
# normals, region normals, "likely represents", "suggests") and 0.916 on attributes; after: 0.996 and 0.994
# (395 sentences; 60 of them were first scored blind: 0.847 / 0.939).
MIN_STATE_ACCURACY = 0.98
MIN_ATTRIBUTE_ACCURACY = 0.95


@dataclass
class Expected:
    state: str
    attributes: dict[str, str] = field(default_factory=dict)


def parse_line(line: str) -> tuple[str, dict[str, Expected]]:
    """``sentence | label=STATE(attr,...); ...`` -> (sentence, {finding name: Expected})."""
    severities = {s for spec in load_ontology().findings.values() for s in spec.severities}
    text, _, spec = line.partition("|")
    if not spec.strip():
        raise ValueError(f"line without expectations: {line!r}")
    expected: dict[str, Expected] = {}
    if spec.strip() == "-":
        return text.strip(), expected
    for item in spec.split(";"):
        key, _, value = item.strip().partition("=")
        state, _, rest = value.partition("(")
        attributes: dict[str, str] = {}
        for word in filter(None, (w.strip() for w in rest.rstrip(")").split(","))):
            kind = ("laterality" if word in SIDES else "change" if word in CHANGES
                    else "severity" if word in severities else None)
            if kind is None:
                raise ValueError(f"unknown attribute {word!r} in {line!r}")
            attributes[kind] = word
        for short in GROUPS.get(key, [key]):
            if short not in SHORT or state not in STATES:
                raise ValueError(f"bad expectation {item!r} in {line!r}")
            expected[SHORT[short]] = Expected(STATES[state], dict(attributes))
    return text.strip(), expected


def load_cases() -> list[tuple[str, dict[str, Expected]]]:
    lines = DATA.read_text(encoding="utf-8").splitlines()
    return [parse_line(line) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _attribute(finding: Finding, kind: str) -> str | None:
    value = getattr(finding, kind)
    return getattr(value, "value", value)


def score_cases(cases: list[tuple[str, dict[str, Expected]]]) -> dict[str, object]:
    """State accuracy over (sentence, finding) pairs, attribute accuracy over the attributes asked for,
    and the misses (for the assertion message)."""
    states = state_ok = attrs = attr_ok = 0
    misses: list[str] = []
    for text, expected in cases:
        found = {f.label: f for f in label_report(text) if f.label != NO_FINDING}
        for label in sorted(set(expected) | set(found)):
            want = expected[label].state if label in expected else "not mentioned"
            got = found[label].presence.value if label in found else "not mentioned"
            states += 1
            state_ok += want == got
            if want != got:
                misses.append(f"{text!r}: {label} {got}, expected {want}")
            for kind, value in (expected[label].attributes.items() if label in expected else []):
                attrs += 1
                have = _attribute(found[label], kind) if label in found else None
                attr_ok += have == value
                if have != value:
                    misses.append(f"{text!r}: {label} {kind} {have}, expected {value}")
    return {"sentences": len(cases), "state_accuracy": state_ok / states, "states": states,
            "attribute_accuracy": attr_ok / attrs if attrs else 1.0, "attributes": attrs, "misses": misses}


def test_the_set_has_at_least_300_sentences_and_parses() -> None:
    cases = load_cases()
    assert len(cases) >= 300
    assert len({text for text, _ in cases}) == len(cases), "a sentence is listed twice"


@pytest.mark.parametrize(
    ("line", "message"),
    [("No effusion.", "without expectations"), ("x | eff=Q", "bad expectation"),
     ("x | eff=P(huge)", "unknown attribute"), ("x | lung=A", "bad expectation")],
)
def test_bad_lines_are_refused(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_line(line)


def test_the_labeler_reads_the_hand_written_set() -> None:
    result = score_cases(load_cases())
    misses = "\n".join(result["misses"])  # type: ignore[arg-type]
    assert result["state_accuracy"] >= MIN_STATE_ACCURACY, misses
    assert result["attribute_accuracy"] >= MIN_ATTRIBUTE_ACCURACY, misses
