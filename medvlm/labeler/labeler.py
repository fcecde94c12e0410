"""Report text -> findings: sentence by sentence, clause by clause, mention by mention.

Per label, the mentions are combined as radiologists write: any present mention makes the label present
("no effusion on the right; small left effusion"), else any uncertain one makes it uncertain, else absent.
``no_finding`` is present when the text has no present or uncertain finding at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from medvlm.findings import NO_FINDING, Finding, Laterality, Presence
from medvlm.labeler.attributes import laterality_of, location_of, phrase_parts, severity_change, severity_of
from medvlm.labeler.context import change_of, presence_of
from medvlm.labeler.mentions import find_mentions
from medvlm.labeler.sentences import split_clauses, split_sentences
from medvlm.ontology import Ontology, load_ontology, merge_laterality

_RANK = {Presence.PRESENT: 2, Presence.UNCERTAIN: 1, Presence.ABSENT: 0}


@dataclass(frozen=True)
class LabeledMention:
    """One mention with its reading (exposed for tests and for the drafting guard's messages)."""

    label: str
    presence: Presence
    laterality: Laterality | None
    severity: str | None
    location: str | None
    change: str | None
    sentence: str
    text: str


def label_mentions(text: str, ontology: Ontology | None = None) -> list[LabeledMention]:
    """Every finding mention in ``text`` with its presence, attributes and sentence, in text order."""
    onto = ontology or load_ontology()
    out: list[LabeledMention] = []
    for sentence in split_sentences(text):
        clauses = split_clauses(sentence.text)
        found = [find_mentions(clause.text, onto) for clause in clauses]
        for index, (clause, mentions) in enumerate(zip(clauses, found, strict=True)):
            # A change written as a clause of its own after the finding ("Granulomas in both lungs,
            # unchanged.") belongs to this clause's findings.
            trailing = ""
            if index + 1 < len(clauses) and not found[index + 1]:
                trailing = clauses[index + 1].text
            for i, mention in enumerate(mentions):
                spec = onto.get(mention.label)
                prev_end = max((m.end for m in mentions[:i] if m.end <= mention.start), default=0)
                next_start = min(
                    (m.start for m in mentions[i + 1 :] if m.start >= mention.end), default=len(clause.text)
                )
                if mention.normal:
                    presence = Presence.ABSENT
                else:
                    presence = presence_of(clause.text[: mention.start], clause.text[mention.end :])
                before, after = phrase_parts(clause.text, mention.start, mention.end, prev_end, next_start)
                phrase = f"{before}{mention.text}{after}"
                # "has increased, now moderate", "previously large, now small": the level now written
                # after the finding (up to the next one) wins over the phrase's, and may imply the change.
                now, implied = severity_change(clause.text[mention.end : next_start], spec, onto)
                labeled = LabeledMention(
                    label=mention.label,
                    presence=presence,
                    # The phrase first; else the clause, then the sentence ("Minimal atelectasis,
                    # platelike in the right upper lobe"): laterality_of is None when they name two sides.
                    laterality=laterality_of(phrase, spec)
                    or laterality_of(clause.text, spec, strict=True)
                    or laterality_of(sentence.text, spec, strict=True),
                    severity=now or severity_of(phrase, spec, onto),
                    location=location_of(phrase, spec, onto)
                    or location_of(clause.text, spec, onto, strict=True),
                    change=change_of(clause.text, presence)
                    or implied
                    or _trailing_change(trailing, presence),
                    sentence=sentence.text,
                    text=mention.text,
                )
                out.append(labeled)
                if presence == Presence.ABSENT:
                    out.extend(_implied_absent(labeled, spec.absent_implies, onto))
    return out


def _trailing_change(clause: str, presence: Presence) -> str | None:
    return change_of(clause, presence) if clause else None


def _implied_absent(mention: LabeledMention, names: list[str], onto: Ontology) -> list[LabeledMention]:
    """The findings an absent mention rules out as well ("no airspace disease": no consolidation)."""
    out = []
    for name in names:
        spec = onto.get(name)
        side = mention.laterality
        if side is not None and side.value not in spec.lateralities:
            side = None
        location = mention.location if mention.location in spec.locations else None
        out.append(replace(mention, label=name, laterality=side, severity=None, location=location))
    return out


def label_report(text: str, ontology: Ontology | None = None) -> list[Finding]:
    """One Finding per mentioned label, in ontology order (present / absent / uncertain, with laterality,
    severity, location, change and the evidence sentence); ``no_finding`` as described above."""
    onto = ontology or load_ontology()
    best: dict[str, list[LabeledMention]] = {}
    for mention in label_mentions(text, onto):
        kept = best.get(mention.label)
        if kept is None or _RANK[mention.presence] > _RANK[kept[0].presence]:
            best[mention.label] = [mention]
        elif _RANK[mention.presence] == _RANK[kept[0].presence]:
            kept.append(mention)
    findings: list[Finding] = []
    for name in onto.names:
        group = best.get(name)
        if not group:
            continue
        spec = onto.get(name)
        side: Laterality | None = None
        severity = location = change = None
        for m in group:
            side = merge_laterality(side, m.laterality)
            severity = spec.worse_severity(severity, m.severity)
            location = location or m.location
            change = change or m.change
        finding = Finding(label=name, presence=group[0].presence, laterality=side, severity=severity,
                          location=location, change=change, evidence=group[0].sentence)
        findings.append(spec.with_critical(finding))
    if NO_FINDING in onto and text.strip() and not any(f.presence != Presence.ABSENT for f in findings):
        findings.insert(0, Finding(label=NO_FINDING, presence=Presence.PRESENT))
    return findings
