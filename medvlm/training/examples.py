"""Training examples from records: findings targets, templated Q&A with sampled negatives, report pairs."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from medvlm.corpus.iu import without_placeholder_sentences
from medvlm.errors import CurriculumError
from medvlm.findings import NO_FINDING, Finding, Presence
from medvlm.model.configuration import FindingSlot
from medvlm.model.processing import report_target
from medvlm.training.manifest import Record


@dataclass(frozen=True)
class TextExample:
    image: int  # row in the image cache
    prompt_findings: tuple[Finding, ...] | None  # report examples: the findings rendered in the prompt
    question: str | None  # Q&A examples
    target: str


def positives(record: Record) -> list[Finding]:
    """Present and uncertain findings: what a report states or hedges (prompts, CE-F1 truth)."""
    return [f for f in record.findings if f.presence in (Presence.PRESENT, Presence.UNCERTAIN)]


def present(record: Record) -> list[Finding]:
    """Findings the report states as present: the only positive targets of the head and of Q&A."""
    return [f for f in record.findings if f.presence == Presence.PRESENT]


def uncertain_labels(record: Record) -> set[str]:
    """Findings hedged ("possible", "cannot exclude") and not also stated present."""
    sure = {f.label for f in present(record)}
    return {f.label for f in record.findings if f.presence == Presence.UNCERTAIN} - sure


def findings_targets(records: list[Record], slots: list[FindingSlot]) -> dict[str, torch.Tensor]:
    """presence (N, n) in {0, 1}; known (N, n) 1 where presence is a label to learn, 0 where it is not;
    laterality / severity (N, n) class index, -1 when absent or unknown.

    An uncertain finding is neither a positive nor a negative: the labeler's "possible effusion" is the
    reporter's doubt, not the film's content, so its presence is masked out (known 0) of the loss, the
    thresholds and the metrics. ``no_finding`` is unknown too when a film's only findings are uncertain.
    """
    index = {s.name: i for i, s in enumerate(slots)}
    n = len(slots)
    presence = torch.zeros(len(records), n)
    known = torch.ones(len(records), n)
    laterality = torch.full((len(records), n), -1, dtype=torch.long)
    severity = torch.full((len(records), n), -1, dtype=torch.long)
    for r, record in enumerate(records):
        found = [f for f in present(record) if f.label in index and f.label != NO_FINDING]
        for f in found:
            i = index[f.label]
            presence[r, i] = 1.0
            slot = slots[i]
            if f.laterality and str(f.laterality) in slot.lateralities:
                laterality[r, i] = slot.lateralities.index(str(f.laterality))
            if f.severity and f.severity in slot.severities:
                severity[r, i] = slot.severities.index(f.severity)
        doubtful = [index[label] for label in uncertain_labels(record) if label in index]
        for i in doubtful:
            known[r, i] = 0.0
        if NO_FINDING in index and not found:
            if doubtful:
                known[r, index[NO_FINDING]] = 0.0
            else:
                presence[r, index[NO_FINDING]] = 1.0
    return {"presence": presence, "known": known, "laterality": laterality, "severity": severity}


def load_templates(path: Path) -> dict[str, list[str]]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not data.get("presence"):
        raise CurriculumError(
            f"question templates {path} must map 'presence' (and optionally 'laterality', "
            "'severity') to lists of templates with {finding}"
        )
    unknown = set(data) - {"presence", "laterality", "severity"}
    if unknown:
        raise CurriculumError(f"question templates {path}: unknown keys {sorted(unknown)}")
    return {k: [str(t) for t in v] for k, v in data.items()}


def qa_examples(
    records: list[Record],
    images: list[int],
    slots: list[FindingSlot],
    templates: dict[str, list[str]],
    negatives: int,
    seed: int,
) -> list[TextExample]:
    """Presence (yes), laterality and severity questions for each positive; ``negatives`` sampled 'no's."""
    rng = random.Random(seed)
    names = {s.name: s for s in slots if s.name != NO_FINDING}
    out: list[TextExample] = []

    def ask(kind: str, slot: FindingSlot) -> str:
        return rng.choice(templates[kind]).format(finding=(slot.display or slot.name).lower())

    for record, image in zip(records, images, strict=True):
        stated = {f.label: f for f in present(record) if f.label in names}
        for label, finding in stated.items():
            slot = names[label]
            out.append(TextExample(image, None, ask("presence", slot), "yes"))
            if finding.laterality and templates.get("laterality") and slot.lateralities:
                out.append(TextExample(image, None, ask("laterality", slot), str(finding.laterality)))
            if finding.severity and templates.get("severity") and slot.severities:
                out.append(TextExample(image, None, ask("severity", slot), finding.severity))
        # an uncertain finding is asked neither way: 'yes' and 'no' would both teach a guess
        absent = sorted(set(names) - set(stated) - uncertain_labels(record))
        for label in rng.sample(absent, min(negatives, len(absent))):
            out.append(TextExample(image, None, ask("presence", names[label]), "no"))
    return out


def report_examples(
    records: list[Record], images: list[int], rendered: int = 0, ontology: Any = None
) -> list[TextExample]:
    """Prompt = the record's ground-truth findings; target = its findings section + impression, less any
    sentence with an IU ``XXXX`` placeholder (``without_placeholder_sentences``).

    ``rendered`` > 0: each record with a positive finding also gets that many examples whose target is its
    findings written in the ontology's phrases (``rendered_report``). Real text alone teaches a tiny LM the
    majority (normal) report, whatever the prompt says; the rendered copies tie each prompted finding to a
    sentence stating it, so the draft follows the findings.
    """
    out = []
    for record, image in zip(records, images, strict=True):
        found = tuple(positives(record))
        findings_text = without_placeholder_sentences(record.findings_text)
        impression = without_placeholder_sentences(record.impression)
        if findings_text or impression:
            out.append(TextExample(image, found, None, report_target(findings_text, impression)))
        abnormal = [
            f for f in found if f.label != NO_FINDING and ontology is not None and f.label in ontology
        ]
        if rendered and abnormal:
            findings_text, impression = rendered_report(abnormal, ontology)
            out += [TextExample(image, found, None, report_target(findings_text, impression))] * rendered
    return out


PERTINENT_NEGATIVES = ("pneumothorax", "pleural_effusion")


def rendered_report(findings: list[Finding], ontology: Any) -> tuple[str, str]:
    """(findings section, impression): the ontology's first phrase per finding, plus usual negatives."""

    def sentence(f: Finding) -> str:
        lat = str(f.laterality.value) if f.laterality else None
        return str(
            ontology.get(f.label).render(f.presence, laterality=lat, severity=f.severity, location=f.location)
        )

    stated = [sentence(f) for f in findings]
    labels = {f.label for f in findings}
    negatives = [
        ontology.get(n).render(Presence.ABSENT)
        for n in PERTINENT_NEGATIVES
        if n in ontology and n not in labels
    ]
    return " ".join(s for s in stated + negatives if s), " ".join(s for s in stated if s)
