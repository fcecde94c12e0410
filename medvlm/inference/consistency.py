"""The consistency check: the report labeler reads the draft, and the draft must agree with the structured
findings. Every disagreement is a flag:

- ``hallucination``: the text states a finding (present or possible) that the structured findings lack;
- ``omission``: a structured positive finding that the text omits or negates, or an impression that
  reports no abnormality while the structured findings list one;
- ``laterality`` / ``severity``: both sides name one, and they differ;
- ``certainty``: one side says present where the other says possible;
- ``unparsed``: a sentence the guard cannot read (``medvlm.inference.sentence_check``; set by the guard).

The impression summarises, so only the findings section and impression together must mention every
positive finding; each section on its own must not contradict the structured findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from medvlm.findings import NO_FINDING, Finding, Presence
from medvlm.ontology import Ontology, load_ontology

POSITIVE = (Presence.PRESENT, Presence.UNCERTAIN)
KINDS = ("hallucination", "omission", "laterality", "severity", "certainty", "unparsed")


@dataclass(frozen=True)
class ConsistencyFlag:
    label: str
    kind: str  # one of KINDS
    message: str
    sentence: str | None = None  # the draft sentence at fault (None for an omission)
    section: str | None = None  # "findings" or "impression"

    def to_dict(self) -> dict[str, Any]:
        """The API's shape: ``{label, kind, message, sentence}``."""
        return {"label": self.label, "kind": self.kind, "message": self.message, "sentence": self.sentence}


def _display(ontology: Ontology, label: str) -> str:
    return ontology.get(label).display.lower() if label in ontology else label.replace("_", " ")


def positive_findings(findings: Sequence[Finding]) -> dict[str, Finding]:
    return {f.label: f for f in findings if f.presence in POSITIVE}


def _label(text: str, ontology: Ontology) -> list[Finding]:
    from medvlm.labeler import label_report

    return label_report(text, ontology) if text.strip() else []


def _where(section: str) -> str:
    return "the findings section" if section == "findings" else "the impression"


def _compare(label: str, stated: Finding, wanted: Finding, section: str,
             ontology: Ontology) -> list[ConsistencyFlag]:
    name, where = _display(ontology, label), _where(section)
    flags = []
    for kind, said, truth in (("laterality", stated.laterality, wanted.laterality),
                              ("severity", stated.severity, wanted.severity)):
        if said and truth and said != truth:
            message = f"{where} says {said} {name}; the structured findings say {truth}"
            flags.append(ConsistencyFlag(label, kind, message, stated.evidence, section))
    if stated.presence != wanted.presence:
        message = f"{where} states {name} as {stated.presence}; the structured findings say {wanted.presence}"
        flags.append(ConsistencyFlag(label, "certainty", message, stated.evidence, section))
    return flags


def check_section(text: str, section: str, wanted: dict[str, Finding],
                  ontology: Ontology) -> tuple[list[ConsistencyFlag], set[str]]:
    """Flags for one section, and the labels it states as positive."""
    where = _where(section)
    flags: list[ConsistencyFlag] = []
    stated_positive: set[str] = set()
    for stated in _label(text, ontology):
        label, name = stated.label, _display(ontology, stated.label)
        if stated.presence in POSITIVE:
            stated_positive.add(label)
            if label == NO_FINDING:
                # The labeler infers "no finding" when a section states nothing positive. In the findings
                # section each missing finding is flagged on its own; an impression that reports nothing
                # while the structured findings list something is one flag for the whole impression.
                others = sorted(k for k in wanted if k != NO_FINDING)
                if section == "impression" and others:
                    names = ", ".join(_display(ontology, k) for k in others)
                    message = f"the impression reports no abnormality; the structured findings list {names}"
                    flags.append(ConsistencyFlag(label, "omission", message, None, section))
            elif label not in wanted:
                message = f"{where} states {name}; the structured findings lack it"
                flags.append(ConsistencyFlag(label, "hallucination", message, stated.evidence, section))
            else:
                flags += _compare(label, stated, wanted[label], section, ontology)
        elif label in wanted and label != NO_FINDING:
            message = f"{where} negates {name}; the structured findings list it"
            flags.append(ConsistencyFlag(label, "omission", message, stated.evidence, section))
    return flags, stated_positive


def check_consistency(findings: Sequence[Finding], findings_text: str, impression: str,
                      ontology: Ontology | None = None) -> list[ConsistencyFlag]:
    """Every disagreement between the draft text and the structured ``findings`` (see the module doc)."""
    ontology = ontology or load_ontology()
    wanted = positive_findings(findings)
    flags: list[ConsistencyFlag] = []
    stated: set[str] = set()
    negated: set[str] = set()
    for section, text in (("findings", findings_text), ("impression", impression)):
        section_flags, section_stated = check_section(text, section, wanted, ontology)
        flags += section_flags
        stated |= section_stated
        negated |= {f.label for f in section_flags if f.kind == "omission"}
    for label in wanted:
        if label != NO_FINDING and label not in stated and label not in negated:
            message = f"structured findings list {_display(ontology, label)}; the draft never mentions it"
            flags.append(ConsistencyFlag(label, "omission", message))
    unique: dict[tuple, ConsistencyFlag] = {}
    for flag in flags:
        unique.setdefault((flag.label, flag.kind, flag.sentence, flag.section), flag)
    return list(unique.values())
