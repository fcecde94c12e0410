"""The corrections stage's data: signed corrections (FINAL findings and text) plus replay of earlier data.

A correction teaches what the curriculum's ``teach`` says: its finding states (presence, side, severity)
train the findings head, its text trains the language model; each part is mixed with a replay share of
the stage's other sources so the rest is not forgotten. After the stage, the threshold of every finding a
correction changed is re-tuned (the draft states a finding by head probability >= threshold, so a head
that learned the correction but kept the old cut-off could still draft the old answer).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import torch

from medvlm.curriculum.schema import Stage
from medvlm.evaluation.classification import known_only
from medvlm.evaluation.corrections import changed_labels
from medvlm.model.bundle import ModelBundle
from medvlm.model.heads import pos_weights
from medvlm.training.examples import TextExample, findings_targets, report_examples
from medvlm.training.manifest import Record


def replay_count(corrections: int, available: int, fraction: float) -> int:
    """Replayed items so that they are ``fraction`` of the mix (at most what the replay pool holds)."""
    return min(available, round(corrections * fraction / max(1.0 - fraction, 1e-6)))


def corrected_labels(records: list[Record]) -> set[str]:
    """Findings whose state any correction changed (FINAL vs the ORIGINAL in the record's provenance)."""
    out: set[str] = set()
    for r in records:
        original = (r.provenance.get("original") or {}).get("findings")
        if original is not None:
            out |= changed_labels(original, [f.to_dict() for f in r.findings])
    return out


def text_examples(
    stage: Stage, records: dict[str, list[Record]], row: Callable[[Record], int], seed: int, ontology: Any
) -> list[TextExample]:
    """Every correction's FINAL report, plus the stage's text replay share of the other sources' reports."""
    first = records[stage.sources[0]]
    corrections = report_examples(first, [row(r) for r in first])
    pool = replay_pool(stage, records)
    replay = report_examples(pool, [row(r) for r in pool], stage.rendered_reports, ontology)
    n = replay_count(len(corrections), len(replay), stage.text_replay())
    return corrections + random.Random(seed).sample(replay, n)


def replay_pool(stage: Stage, records: dict[str, list[Record]]) -> list[Record]:
    """The records of the stage's other sources (after the corrections, ``sources[0]``): what it replays."""
    return [r for name in stage.sources[1:] for r in records[name]]


def head_data(
    stage: Stage,
    records: dict[str, list[Record]],
    row: Callable[[Record], int],
    bundle: ModelBundle,
    seed: int,
) -> tuple[list[int], dict[str, torch.Tensor], torch.Tensor]:
    """(image rows, findings targets, positive weights) of the corrections plus their findings replay."""
    assert stage.teach is not None and stage.teach.findings is not None
    first = records[stage.sources[0]]
    pool = replay_pool(stage, records)
    n = replay_count(len(first), len(pool), stage.teach.findings.replay_fraction)
    chosen = first + random.Random(seed + 1).sample(pool, n)
    targets = findings_targets(chosen, bundle.config.slots)
    return [row(r) for r in chosen], targets, pos_weights(targets["presence"], known=targets["known"])


def retune_thresholds(
    stage: Stage,
    bundle: ModelBundle,
    images: torch.Tensor,
    records: list[Record],
    labels: set[str],
    laterals: list[torch.Tensor | None] | None = None,
    shifts: dict[str, float] | None = None,
) -> dict[str, dict[str, float]]:
    """Re-tune the corrected findings' thresholds (F-beta on ``records``: the eval source plus the
    corrections, since the validation set may hold none of the studies the model got wrong); returns
    ``{label: {"before": t, "after": t}}`` and updates ``bundle.config.thresholds``. The floor a cut
    that needs no skill falls back to sits on the natural prior, as in training (``shifts``:
    ``stage_metrics.record_prior_shifts`` of the replay pool)."""
    from medvlm.training.stage_metrics import finding_threshold, findings_probabilities, shifted_floor

    assert stage.teach is not None and stage.teach.findings is not None
    if not labels or not records:
        return {}
    probs = findings_probabilities(bundle, images, laterals=laterals)
    targets = findings_targets(records, bundle.config.slots)
    truth, known = targets["presence"].numpy(), targets["known"].numpy() > 0
    thresholds = dict(bundle.config.thresholds or {})
    changes = {}
    for i, name in enumerate(bundle.names):
        if name not in labels:
            continue
        before = bundle.config.threshold(name)
        t, p = known_only(truth[:, i], probs[:, i], known[:, i])  # uncertain labels left out
        floor = shifted_floor(stage.sparse_threshold, (shifts or {}).get(name, 0.0))
        after = finding_threshold(t, p, stage.teach.findings.threshold_beta, 0, floor)
        thresholds[name] = after
        changes[name] = {"before": round(float(before), 4), "after": round(float(after), 4)}
    bundle.config.thresholds = thresholds
    return changes
