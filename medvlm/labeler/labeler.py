"""Report text -> findings: sentence by sentence, clause by clause, mention by mention.

Per label, the mentions are combined as radiologists write: any present mention makes the label present
("no effusion on the right; small left effusion"), else any uncertain one makes it uncertain, else absent.
``no_finding`` is present when the text has no present or uncertain finding at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from medvlm.findings import NO_FINDING, Finding, Laterality, Presence
from medvlm.labeler.attributes import laterality_of, location_of, phrase_parts, severity_of
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
        for clause in split_clauses(sentence.text):
            mentions = find_mentions(clause.text, onto)
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
                out.append(
                    LabeledMention(
                        label=mention.label,
                        presence=presence,
                        # The phrase first; else the clause, then the sentence ("Minimal atelectasis,
                        # platelike in the right upper lobe"): laterality_of is None when they name two sides.
                        laterality=laterality_of(phrase, spec)
                        or laterality_of(clause.text, spec, strict=True)
                        or laterality_of(sentence.text, spec, strict=True),
                        severity=severity_of(phrase, spec, onto),
                        location=location_of(phrase, spec, onto)
                        or location_of(clause.text, spec, onto, strict=True),
                        change=change_of(clause.text, presence),
                        sentence=sentence.text,
                        text=mention.text,
                    )
                )
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
