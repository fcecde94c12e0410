"""Retraining from clinicians' corrections: base model -> corrections curriculum -> candidate -> gate.

The one path the CLI (``medvlm corrections retrain``) and the service's retraining job both take. The
production model is never touched unless ``promote`` is asked for and the registry's gate passes
(``medvlm.registry.promote``: no gated metric more than the tolerance below production). Each step is
written to the audit trail (``retrain.started``, ``retrain.trained``, ``retrain.promoted`` or
``retrain.refused`` / ``retrain.failed``) with the run id as resource id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medvlm.errors import MedVLMError, NotFoundError
from medvlm.package_data import CORRECTIONS_CURRICULUM

Progress = Callable[[str, int, int], None]  # (stage, done, steps)


@dataclass
class RetrainOptions:
    data_dir: Path
    out_dir: Path
    actor: str
    curriculum: Path = CORRECTIONS_CURRICULUM
    base: Path | None = None  # default: the registry's production model (or the MEDVLM_MODEL_DIR pin)
    promote: bool = False
    tolerance: float | None = None
    progress: bool = True
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class RetrainResult:
    run_id: str
    base_dir: str
    base_version: str | None
    candidate_id: str
    metrics: dict[str, Any]
    promoted: bool
    refused: str | None = None  # the gate's reasons when promotion was asked for and refused

    def summary(self) -> str:
        lines = [f"candidate {self.candidate_id} trained from {self.base_version or self.base_dir}"]
        shown = {k: v for k, v in self.metrics.items() if k in ("report.ce_f1", "findings.macro_auroc")}
        lines += [f"  {k}: {v}" for k, v in sorted(shown.items())]
        if self.promoted:
            lines.append(f"promoted {self.candidate_id} to production")
        elif self.refused:
            lines.append(f"not promoted: {self.refused}")
        else:
            lines.append("left as a candidate (promote with `medvlm models promote ID`)")
        return "\n".join(lines)


def _audit(actor: str, action: str, run_id: str, detail: dict[str, Any]) -> None:
    from medvlm.compliance.audit import record
    from medvlm.db import session_scope
    from medvlm.registry.registry import ready_engine  # the registry's database, migrated

    with session_scope(ready_engine()) as session:
        record(session, actor=actor, action=action, resource_type="retrain", resource_id=run_id,
               detail=detail)


def _base_version(base: Path) -> str | None:
    import json

    try:
        return str(json.loads((base / "model_card.json").read_text()).get("version") or "") or None
    except (OSError, ValueError):
        return None


def retrain(options: RetrainOptions, on_step: Progress | None = None) -> RetrainResult:
    """Train the corrections curriculum from the base model, register the candidate, and (when asked)
    promote it through the gate. Raises ``MedVLMError`` subclasses for bad input, after auditing."""
    from medvlm.errors import PromotionRefusedError
    from medvlm.registry import promote, register_version
    from medvlm.registry.resolve import resolve_model_dir
    from medvlm.training.runner import TrainOptions, train

    base = resolve_model_dir(options.base)
    if not (base / "model_card.json").is_file():
        raise NotFoundError(f"base model {base} has no model_card.json; is it a saved medvlm model?")
    run, actor = options.run_id, options.actor
    _audit(actor, "retrain.started", run, {
        "base": str(base), "base_version": _base_version(base), "curriculum": str(options.curriculum),
        "data": str(options.data_dir), "out": str(options.out_dir), "promote": options.promote,
    })
    try:
        train(TrainOptions(options.curriculum, options.data_dir, options.out_dir, preset=f"model:{base}",
                           progress=options.progress, register=False, on_step=on_step))
        candidate = register_version(options.out_dir)
    except MedVLMError as exc:
        _audit(actor, "retrain.failed", run, {"error": str(exc)[:500]})
        raise
    metrics = {k: v for k, v in candidate.metrics.items() if k.count(".") <= 1}
    _audit(actor, "retrain.trained", run, {"candidate": candidate.id, "metrics": metrics})
    result = RetrainResult(run, str(base), _base_version(base), candidate.id, metrics, promoted=False)
    if options.promote:
        try:
            promote(candidate.id, options.tolerance)
        except PromotionRefusedError as exc:
            result.refused = str(exc)
            _audit(actor, "retrain.refused", run, {"candidate": candidate.id, "reason": str(exc)[:500]})
        else:
            result.promoted = True
            _audit(actor, "retrain.promoted", run, {"candidate": candidate.id,
                                                    "replaced": result.base_version})
    return result
