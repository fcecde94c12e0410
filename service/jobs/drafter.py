"""What the worker and the regenerate endpoint need from the model: one small interface.

``BundleDrafter`` is the real one (``medvlm.model.load_bundle`` + ``medvlm.inference.draft_study``),
loaded lazily once per process. Keeping the service behind ``Drafter`` lets the queue, retries and
restarts be exercised on their own, and lets a deployment swap the model without touching the service.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Protocol

from medvlm.findings import Finding
from medvlm.service.workflow.draft_output import INTENDED_USE, DraftOutput
from medvlm.settings import Settings

NO_MODEL = (
    "no validated model is available: no model version has passed the promotion floors into production "
    "(`medvlm models promote ID`), and no model directory is pinned (MEDVLM_MODEL_DIR)"
)
UNVALIDATED = " (unvalidated model)"  # appended to the model version of drafts by a model not in production


def is_unvalidated(model_version: str | None) -> bool:
    """Whether a draft's model version says it came from a model not in production (see UNVALIDATED)."""
    return bool(model_version) and model_version.endswith(UNVALIDATED)  # type: ignore[union-attr]


def accepted_views(decision: Any) -> list[dict[str, str]]:
    """The study's views as the gate accepted them (a ``medvlm.gate.policy.GateDecision``): the frontal it
    drafts from first, then each lateral, listed as the second view (never read as a frontal)."""
    by_source = {image.source: image for image in decision.images}
    frontal = by_source[decision.frontal]
    return [{"kind": "frontal", "view_position": frontal.view_position},
            *({"kind": "lateral", "view_position": by_source[s].view_position} for s in decision.laterals)]


class Drafter(Protocol):
    def draft(self, paths: list[Path], edited_findings: list[Finding] | None = None) -> DraftOutput:
        """Findings and a report for the study's images; with ``edited_findings``, text matching them."""
        ...


def _flag_dict(flag: Any) -> dict[str, Any]:
    data = asdict(flag) if is_dataclass(flag) and not isinstance(flag, type) else dict(flag)
    return {
        k: (str(v) if v is not None and k != "sentence" else v)
        for k, v in data.items()
        if k in ("label", "kind", "message", "sentence")
    }


def _intended_use_flag(note: str | None) -> list[dict[str, Any]]:
    if note is None:
        return []
    return [{"label": INTENDED_USE, "kind": INTENDED_USE, "sentence": None,
             "message": f"DRAFTED OUTSIDE INTENDED USE: {note}"}]


class BundleDrafter:
    """Drafts with a saved model bundle (``ModelBundle.save`` directory)."""

    def __init__(self, model_dir: Path, *, max_new_tokens: int | None = None,
                 settings: Settings | None = None) -> None:
        self.model_dir = Path(model_dir)
        # With settings, a draft whose model is not the registry's production version (a pinned
        # directory below the promotion floors, say) says so in its model version, wherever it is shown.
        self.settings = settings
        self.max_new_tokens = max_new_tokens  # None: the bundle's own default
        self._bundle: Any = None
        self._lock = threading.Lock()  # one forward pass at a time: the model is not thread-safe

    def _load(self) -> Any:
        if self._bundle is None:
            from medvlm.model import load_bundle

            self._bundle = load_bundle(self.model_dir)
        return self._bundle

    def warm(self) -> None:
        """Load the weights now, so the first upload does not wait for them."""
        with self._lock:
            self._load()

    def draft(self, paths: list[Path], edited_findings: list[Finding] | None = None, *,
              outside_intended_use: str | None = None) -> DraftOutput:
        """A model draft of the study's frontal film. A first draft passes the intended-use gate
        (``medvlm.gate``; OutsideIntendedUseError with the reason when refused); a redraft from a
        clinician's findings (``edited_findings``) is the clinician's request and is not gated again.
        ``outside_intended_use`` (a radiologist's request, with the gate's reason) drafts without the
        gate, and the draft carries it as its first flag (kind ``intended_use``)."""
        from medvlm.inference import draft_study
        from medvlm.inference.uncertainty import review_priority

        views: list[dict[str, str]] = []
        if edited_findings is None and outside_intended_use is None:
            from medvlm.gate.policy import require_intended_use

            decision = require_intended_use(paths)
            # the accepted frontal, then the laterals (read by a model whose inputs include them)
            paths = [Path(decision.frontal), *map(Path, decision.laterals)]  # type: ignore[arg-type]
            views = accepted_views(decision)
        with self._lock:
            bundle = self._load()
            result = draft_study(
                bundle,
                [str(p) for p in paths],
                edited_findings=edited_findings,
                max_new_tokens=self.max_new_tokens,
            )
        return DraftOutput(
            findings=list(result.findings),
            findings_text=result.findings_text,
            impression=result.impression,
            model_version=str(result.model_version) + self._validation_note(str(result.model_version)),
            consistency_flags=[*_intended_use_flag(outside_intended_use),
                               *(_flag_dict(f) for f in result.consistency_flags)],
            input_hashes=list(result.input_hashes),
            uncertainty=review_priority(result.findings, bundle.config.threshold, result.familiarity),
            views=views,
        )


    def _validation_note(self, version: str) -> str:
        if self.settings is None:
            return ""
        from medvlm.registry.registry import production_version

        production = production_version(settings=self.settings)
        return "" if production is not None and production.id == version else UNVALIDATED


class ProductionDrafter:
    """Follows the model registry: each call answers with the current production version's drafter, so
    ``medvlm models promote`` takes effect on the next draft without a restart (each model is loaded once,
    when first used). None while the registry has no production version."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._current: BundleDrafter | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Drafter | None:
        from medvlm.registry.registry import production_version

        production = production_version(settings=self.settings)
        if production is None:
            return None
        model_dir = Path(production.model_dir)
        with self._lock:
            if self._current is None or self._current.model_dir != model_dir:
                self._current = BundleDrafter(model_dir)
            return self._current


def drafter_source(settings: Settings) -> Callable[[], Drafter | None]:
    """Where drafts come from, by the one order of ``medvlm.registry.resolve`` (the service has no explicit
    argument): the pin when an operator set one, otherwise the registry's production version, followed as
    it changes."""
    from medvlm.registry.resolve import pinned_model_dir

    pin = pinned_model_dir(settings)
    if pin is not None:
        pinned = BundleDrafter(pin, settings=settings)
        return lambda: pinned
    return ProductionDrafter(settings)

