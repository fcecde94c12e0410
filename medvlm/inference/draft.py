"""Drafting: a study (DICOM files, a folder, or a model-input tensor) -> findings + draft report.

The model predicts the findings, then writes the findings section and impression conditioned on the
image and those findings; a clinician's edited findings replace the prediction and the text is
regenerated from them. Every draft then passes the guard (``medvlm.inference.guard``): the labeler reads
it back, and what disagrees with the structured findings is repaired or flagged.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import torch

from medvlm.errors import ModelInputError
from medvlm.findings import NO_FINDING, Finding, Presence
from medvlm.inference.consistency import ConsistencyFlag
from medvlm.inference.guard import guard_draft
from medvlm.inference.inputs import StudyInput, load_study
from medvlm.inference.uncertainty import unfamiliar_film_flag
from medvlm.model.configuration import is_critical
from medvlm.ontology import Ontology, load_ontology
from medvlm.settings import Settings

Guard = Literal["repair", "flag"]


@dataclass
class DraftResult:
    findings: list[Finding]
    findings_text: str
    impression: str
    model_version: str
    input_hashes: list[str]
    consistency_flags: list[ConsistencyFlag]
    repairs: list[ConsistencyFlag] = field(default_factory=list)  # what the guard changed
    generated: tuple[str, str] = ("", "")  # the model's own text, before the guard
    edited: bool = False  # drafted from a clinician's findings rather than the model's
    source: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    lateral_source: str | None = None  # the lateral film read with the frontal (models that read laterals)
    indication: str = ""  # the indication the prompt carried (models that read it)
    # how typical of the model's training films the frontal is (medvlm.model.novelty); None: not known
    familiarity: float | None = None

    @property
    def critical(self) -> bool:
        return any(f.critical for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "findings_text": self.findings_text,
            "impression": self.impression,
            "model_version": self.model_version,
            "input_hashes": self.input_hashes,
            "consistency_flags": [f.to_dict() for f in self.consistency_flags],
            "repairs": [f.to_dict() for f in self.repairs],
            "generated": {"findings_text": self.generated[0], "impression": self.generated[1]},
            "edited": self.edited,
            "critical": self.critical,
            "familiarity": self.familiarity,
        }


def check_edited_findings(findings: Sequence[Finding | dict], bundle: Any) -> list[Finding]:
    """Edited findings checked against the model's own labels and scales, critical flags recomputed,
    in head order. Anything the model cannot express is a ModelInputError naming it."""
    slots = {s.name: s for s in bundle.config.slots}
    checked: dict[str, Finding] = {}
    for item in findings:
        try:
            finding = item if isinstance(item, Finding) else Finding.from_dict(dict(item))
        except (TypeError, ValueError) as exc:
            raise ModelInputError(f"edited finding {item!r} is not a finding: {exc}") from None
        slot = slots.get(finding.label)
        if slot is None:
            raise ModelInputError(f"unknown finding {finding.label!r}; the model knows {', '.join(slots)}")
        if finding.label in checked:
            raise ModelInputError(f"finding {finding.label!r} given twice")
        if finding.laterality and str(finding.laterality) not in slot.lateralities:
            allowed = ", ".join(slot.lateralities) or "none"
            side = finding.laterality
            raise ModelInputError(f"{finding.label}: laterality {side!s} not allowed ({allowed})")
        if finding.severity and finding.severity not in slot.severities:
            allowed = ", ".join(slot.severities) or "none"
            raise ModelInputError(f"{finding.label}: severity {finding.severity!r} not allowed ({allowed})")
        if finding.presence == Presence.ABSENT:  # an absent finding has no side, size or place
            finding = replace(finding, laterality=None, severity=None, location=None)
        checked[finding.label] = with_critical(finding, slot)
    order = list(slots)
    return settle_no_finding(sorted(checked.values(), key=lambda f: order.index(f.label)))


def settle_no_finding(findings: list[Finding]) -> list[Finding]:
    """"No finding" never stands beside a present or possible finding: it is then absent."""
    positive = any(f.label != NO_FINDING and f.presence != Presence.ABSENT for f in findings)
    if not positive:
        return findings
    return [replace(f, presence=Presence.ABSENT, critical=False)
            if f.label == NO_FINDING and f.presence != Presence.ABSENT else f for f in findings]


def with_critical(finding: Finding, slot: Any) -> Finding:
    """``finding`` with its critical flag set by the one rule (``medvlm.findings.critical_rule``)."""
    return replace(finding, critical=is_critical(slot, finding.presence, finding.severity))


def draft_batch(
    bundle: Any,
    studies: Sequence[StudyInput],
    edited_findings: Sequence[Sequence[Finding | dict] | None] | None = None,
    *,
    guard: Guard = "repair",
    batch_size: int = 8,
    max_new_tokens: int | None = None,
    ontology: Ontology | None = None,
    settings: Settings | None = None,
    progress: bool = False,
    indications: Sequence[str | None] | None = None,
) -> list[DraftResult]:
    """Draft many studies, ``batch_size`` at a time through the model.

    The model reads what it was trained with (``bundle.config.inputs``): the study's lateral, and its
    indication, given here per study (None: from the DICOM request attributes)."""
    if edited_findings is not None and len(edited_findings) != len(studies):
        raise ModelInputError(f"got {len(studies)} studies but {len(edited_findings)} edited findings lists")
    if indications is not None and len(indications) != len(studies):
        raise ModelInputError(f"got {len(studies)} studies but {len(indications)} indications")
    if guard not in ("repair", "flag"):
        raise ModelInputError(f"guard must be 'repair' or 'flag', got {guard!r}")
    if batch_size < 1:
        raise ModelInputError(f"batch_size must be at least 1, got {batch_size}")
    ontology = ontology or load_ontology()
    results: list[DraftResult] = []
    chunks = range(0, len(studies), batch_size)
    if progress:
        from tqdm import tqdm

        chunks = tqdm(chunks, desc="drafting", unit="batch")
    for start in chunks:
        part = studies[start : start + batch_size]
        edits = list(edited_findings[start : start + batch_size]) if edited_findings else [None] * len(part)
        given = list(indications[start : start + batch_size]) if indications else [None] * len(part)
        results += _draft_chunk(bundle, part, edits, guard, max_new_tokens, ontology, settings, given)
    return results


def _draft_chunk(bundle: Any, studies: Sequence[StudyInput], edits: list, guard: Guard,
                 max_new_tokens: int | None, ontology: Ontology,
                 settings: Settings | None, given: list[str | None]) -> list[DraftResult]:
    t0 = time.perf_counter()
    inputs = list(getattr(bundle.config, "inputs", ["frontal"]))
    loaded = [load_study(s, bundle.image_size, settings, inputs) for s in studies]
    images = torch.stack([item.image for item in loaded])
    laterals = [item.lateral for item in loaded] if any(i.lateral is not None for i in loaded) else None
    indications = [
        bundle.indication_text(g if g is not None else item.indication)
        for g, item in zip(given, loaded, strict=True)
    ]
    t1 = time.perf_counter()
    findings: list[list[Finding] | None] = [
        None if edit is None else check_edited_findings(edit, bundle) for edit in edits]
    to_predict = [i for i, f in enumerate(findings) if f is None]
    familiarity: list[float | None] = [None] * len(studies)
    if to_predict:
        predicted, known = bundle.read_films(  # one pass of the tower: findings and familiarity
            images[to_predict], None if laterals is None else [laterals[i] for i in to_predict]
        )
        for i, value in zip(to_predict, known or [None] * len(to_predict), strict=True):
            familiarity[i] = value
        slots = {s.name: s for s in bundle.config.slots}
        for i, row in zip(to_predict, predicted, strict=True):
            findings[i] = settle_no_finding([with_critical(f, slots[f.label]) for f in row])
    t2 = time.perf_counter()
    texts = bundle.generate_report(images, findings, max_new_tokens, laterals, indications)
    t3 = time.perf_counter()
    out = []
    for item, row, edit, indication, typical, (findings_text, impression) in zip(
        loaded, findings, edits, indications, familiarity, texts, strict=True
    ):
        assert row is not None
        checked = guard_draft(row, findings_text, impression, repair=guard == "repair", ontology=ontology)
        unfamiliar = unfamiliar_film_flag(typical)
        out.append(DraftResult(
            findings=row, findings_text=checked.findings_text, impression=checked.impression,
            model_version=bundle.version, input_hashes=item.hashes,
            consistency_flags=[*([unfamiliar] if unfamiliar else []), *checked.flags],
            repairs=checked.repairs, generated=(findings_text, impression), edited=edit is not None,
            source=item.source, lateral_source=item.lateral_source, indication=indication,
            familiarity=typical,
        ))
    t4 = time.perf_counter()
    share = 1000.0 / len(out)  # per-study share of the batch's time
    for result in out:
        result.timings_ms = {"load": (t1 - t0) * share, "findings": (t2 - t1) * share,
                             "report": (t3 - t2) * share, "guard": (t4 - t3) * share}
    return out


def draft_study(bundle: Any, images_or_paths: StudyInput,
                edited_findings: Sequence[Finding | dict] | None = None, **options: Any) -> DraftResult:
    """Draft one study; with ``edited_findings`` the text is regenerated from them (see ``draft_batch``)."""
    edits = None if edited_findings is None else [edited_findings]
    return draft_batch(bundle, [images_or_paths], edits, **options)[0]


__all__ = ["DraftResult", "check_edited_findings", "draft_batch", "draft_study", "settle_no_finding"]
