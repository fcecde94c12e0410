"""The hallucination guard: repair a draft that disagrees with its structured findings, or flag it.

Repair is sentence-level and conservative: a sentence at fault (a hallucinated, negating or mismatched
statement) is removed, and every structured positive finding the text then lacks gets the ontology's own
report phrase. Whatever still disagrees after that stays flagged for the radiologist. A sentence the model
wrote twice in one section (a greedy-decoding loop: "Right pneumothorax. Right pneumothorax.") is kept once.
A sentence the guard cannot read (unknown words, broken grammar, no known statement: see
``sentence_check``) is removed in repair mode and always flagged (kind ``unparsed``), never delivered
silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from medvlm.findings import Finding, Presence
from medvlm.inference.consistency import (
    NO_FINDING,
    ConsistencyFlag,
    check_consistency,
    check_section,
    positive_findings,
)
from medvlm.inference.sentence_check import unreadable_reason
from medvlm.labeler.sentences import split_sentences
from medvlm.ontology import Ontology, load_ontology

MAX_ROUNDS = 2


@dataclass
class GuardResult:
    findings_text: str
    impression: str
    flags: list[ConsistencyFlag]  # disagreements left after repair
    repairs: list[ConsistencyFlag] = field(default_factory=list)  # what was found and changed


def remove_sentence(text: str, sentence: str) -> str | None:
    """``text`` without ``sentence`` (and its end punctuation); None when the sentence is not in it."""
    match = re.search(re.escape(sentence.strip()) + r"\s*[.?!]*\s*", text)
    if not sentence.strip() or match is None:
        return None
    return (text[: match.start()] + text[match.end() :]).strip()


def drop_repeated_sentences(text: str) -> str:
    """``text`` with each sentence that repeats an earlier one (same words, any case or spacing) removed."""
    spans = split_sentences(text)
    if not spans:
        return text
    ends = [following.start for following in spans[1:]] + [len(text)]
    seen: set[str] = set()
    kept = [text[: spans[0].start]]
    for span, end in zip(spans, ends, strict=True):
        key = " ".join(span.text.lower().split())
        if key not in seen:
            seen.add(key)
            kept.append(text[span.start : end])
    return "".join(kept).strip()


def _candidates(finding: Finding, ontology: Ontology) -> list[str]:
    spec = ontology.get(finding.label)
    templates = spec.phrases.get("present") or []
    texts = [spec.render(Presence.PRESENT, finding.laterality, finding.severity, finding.location, index=i)
             for i in range(len(templates))]
    words = (finding.severity, str(finding.laterality or ""), spec.display.lower())
    texts.append(" ".join(w for w in words if w))
    texts = [t[:1].upper() + t[1:].rstrip(".") + "." for t in texts if t.strip()]
    if finding.presence == Presence.UNCERTAIN:
        texts = [f"Possible {t[:1].lower()}{t[1:]}" for t in texts]
    return texts


def phrase_for(finding: Finding, ontology: Ontology) -> str | None:
    """A sentence stating ``finding`` that the labeler reads back as exactly that finding: the ontology's
    present phrases in turn, then "<severity> <side> <name>". None when no wording reads back (a
    support device of unknown type, say); the omission then stays flagged rather than papered over."""
    if finding.label not in ontology:  # a model trained on an older ontology: nothing to phrase it with
        return None
    wanted = {finding.label: finding}
    for text in _candidates(finding, ontology):
        flags, stated = check_section(text, "findings", wanted, ontology)
        if finding.label in stated and not flags:
            return text
    return None


def _join(*parts: str) -> str:
    """Sentences joined with single spaces; a part without end punctuation is closed with a period, so an
    appended phrase never falls inside the previous (possibly negated) sentence."""
    kept = [p.strip() for p in parts if p.strip()]
    return " ".join(p if p[-1] in ".?!" else f"{p}." for p in kept)


def _impression_for(findings: dict[str, Finding], ontology: Ontology) -> str:
    shown = [f for f in findings.values() if f.label != NO_FINDING]
    if not shown:
        spec = ontology.findings.get(NO_FINDING)
        return spec.render(Presence.PRESENT) if spec else ""
    shown.sort(key=lambda f: (not f.critical, ontology.names.index(f.label) if f.label in ontology else 0))
    return _join(*(phrase_for(f, ontology) or "" for f in shown))


def unreadable_sentences(text: str, section: str, ontology: Ontology) -> list[ConsistencyFlag]:
    """An ``unparsed`` flag for each sentence of ``text`` the guard cannot read."""
    flags = []
    for span in split_sentences(text):
        reason = unreadable_reason(span.text, ontology)
        if reason:
            message = f"{_WHERE[section]}: sentence not understood ({reason})"
            flags.append(ConsistencyFlag("unparsed", "unparsed", message, span.text.strip(), section))
    return flags


_WHERE = {"findings": "findings section", "impression": "impression"}


def _drop_unreadable(findings_text: str, impression: str, repair: bool,
                     ontology: Ontology) -> tuple[str, str, list[ConsistencyFlag]]:
    flags = unreadable_sentences(findings_text, "findings", ontology)
    flags += unreadable_sentences(impression, "impression", ontology)
    if not repair:
        return findings_text, impression, flags
    kept = []
    for flag in flags:
        current = findings_text if flag.section == "findings" else impression
        shorter = remove_sentence(current, flag.sentence or "")
        if shorter is None:
            kept.append(flag)
            continue
        if flag.section == "findings":
            findings_text = shorter
        else:
            impression = shorter
        message = flag.message.replace("sentence not understood", "removed a sentence not understood")
        kept.append(ConsistencyFlag(flag.label, flag.kind, message, flag.sentence, flag.section))
    return findings_text, impression, kept


def guard_draft(findings: Sequence[Finding], findings_text: str, impression: str, *,
                repair: bool = True, ontology: Ontology | None = None) -> GuardResult:
    """Check the draft; with ``repair``, fix what can be fixed and re-check (at most ``MAX_ROUNDS``).

    Unreadable sentences stay in ``flags`` either way: with repair they were removed, and the flag says
    so, since the radiologist must know that the model wrote something the guard dropped."""
    ontology = ontology or load_ontology()
    result = _guard(findings, findings_text, impression, repair, ontology)
    findings_text, impression, unreadable = _drop_unreadable(result.findings_text, result.impression,
                                                             repair, ontology)
    if repair and unreadable:  # removing a sentence may have removed the only mention of a finding
        again = _guard(findings, findings_text, impression, repair, ontology)
        return GuardResult(again.findings_text, again.impression, unreadable + again.flags,
                           result.repairs + unreadable + again.repairs)
    return GuardResult(findings_text, impression, unreadable + result.flags, result.repairs)


def _guard(findings: Sequence[Finding], findings_text: str, impression: str, repair: bool,
           ontology: Ontology) -> GuardResult:
    if repair:
        findings_text = drop_repeated_sentences(findings_text)
        impression = drop_repeated_sentences(impression)
    flags = check_consistency(findings, findings_text, impression, ontology)
    wanted = positive_findings(findings)
    empty_findings_section = not findings_text.strip() and bool(wanted)
    if not repair or (not flags and not empty_findings_section):
        return GuardResult(findings_text, impression, flags)
    repairs: list[ConsistencyFlag] = []
    for _ in range(MAX_ROUNDS):
        changed = False
        for flag in flags:
            if flag.label == NO_FINDING and flag.section == "impression":
                impression = ""  # rewritten below from the structured findings
                repairs.append(flag)
                changed = True
            elif flag.sentence and flag.section:
                current = findings_text if flag.section == "findings" else impression
                shorter = remove_sentence(current, flag.sentence)
                if shorter is None:
                    continue
                if flag.section == "findings":
                    findings_text = shorter
                else:
                    impression = shorter
                repairs.append(flag)
                changed = True
        remaining = check_consistency(findings, findings_text, impression, ontology)
        missing = [f for f in remaining if f.kind == "omission" and f.sentence is None and f.label in wanted]
        for flag in missing:
            phrase = phrase_for(wanted[flag.label], ontology)
            if phrase:
                findings_text = _join(findings_text, phrase)
                repairs.append(flag)
                changed = True
        if not impression.strip():
            impression = _impression_for(wanted, ontology)
            changed = True
        if not findings_text.strip() and wanted:  # a findings section states what was found
            findings_text = _impression_for(wanted, ontology)
            changed = True
        flags = check_consistency(findings, findings_text, impression, ontology)
        if not flags or not changed:
            break
    return GuardResult(findings_text, impression, flags, repairs)
