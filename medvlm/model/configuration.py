"""What a model bundle is, as data: the findings-head layout and the prompt/pixel settings.

The head layout is copied from the ontology at build time and saved with the weights, so a bundle keeps
working (and keeps its output order) when ``curricula/ontology.yaml`` changes later.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from medvlm.errors import ConfigError
from medvlm.findings import Presence, critical_rule

# What a model can read of a study (a curriculum stage's ``inputs``): the frontal film always; the lateral
# film where the study has one; the indication (the request's reason) as prompt text.
INPUTS = ("frontal", "lateral", "indication")


def check_inputs(inputs: list[str], where: str = "inputs") -> list[str]:
    """``inputs`` in INPUTS order; unknown names, or no frontal, are a ConfigError (expected vs got)."""
    unknown = [i for i in inputs if i not in INPUTS]
    if unknown:
        raise ConfigError(f"{where}: unknown input(s) {unknown}; expected some of {list(INPUTS)}")
    if "frontal" not in inputs:
        raise ConfigError(f"{where}: every model reads the frontal view; expected 'frontal' in {inputs}")
    return [i for i in INPUTS if i in inputs]


@dataclass(frozen=True)
class FindingSlot:
    """One ontology finding as the head sees it (order = head output order)."""

    name: str
    lateralities: list[str] = field(default_factory=list)
    severities: list[str] = field(default_factory=list)
    critical: bool = False
    critical_severities: list[str] = field(default_factory=list)
    display: str = ""


def is_critical(slot: FindingSlot, presence: Presence | str, severity: str | None) -> bool:
    """``medvlm.findings.critical_rule`` with this slot's flags (copied from the ontology at build time)."""
    return critical_rule(
        presence, severity, always=slot.critical, critical_severities=slot.critical_severities
    )


def slots_from_ontology(ontology: Any) -> list[FindingSlot]:
    """Read ``Ontology.names`` / ``Ontology.get(name)`` (medvlm.ontology) into head slots."""
    slots = []
    for name in ontology.names:
        spec = ontology.get(name)
        slots.append(
            FindingSlot(
                name=name,
                lateralities=[str(v) for v in getattr(spec, "lateralities", []) or []],
                severities=[str(v) for v in getattr(spec, "severities", []) or []],
                critical=bool(getattr(spec, "critical", False)),
                critical_severities=[str(v) for v in getattr(spec, "critical_severities", []) or []],
                display=str(getattr(spec, "display", "") or name.replace("_", " ")),
            )
        )
    if not slots:
        raise ConfigError("the ontology has no finding names; the findings head needs at least one")
    return slots


@dataclass
class BundleConfig:
    """Everything besides weights and tokenizer that ``load_bundle`` needs to rebuild the bundle."""

    preset: str
    image_size: int
    slots: list[FindingSlot]
    image_token: str = "<image>"
    num_image_tokens: int = 64
    num_channels: int = 1  # channels the vision tower takes; 1-channel radiographs are replicated
    pixel_mode: str = "as_is"  # "as_is" (tiny: model_input output) or "minmax_mean_std" (checkpoints)
    image_mean: list[float] = field(default_factory=lambda: [0.0])
    image_std: list[float] = field(default_factory=lambda: [1.0])
    head_hidden: int = 0  # 0 = linear head on pooled features
    head_tokens: int = 0  # vision tokens the head reads (0 = mean pooling)
    head_local: bool = False  # max-pooled per-token presence scores too (bundles built before: False)
    head_detail: int = 0  # channels of the tower's detail map the head also scores (0 = none)
    vision_feature_dim: int = 0
    thresholds: dict[str, float] = field(default_factory=dict)  # presence thresholds, tuned on validation
    max_new_tokens: int = 160
    source: str | None = None  # path: checkpoint the weights came from
    # "plain": our prompt with num_image_tokens image tokens (tiny, and path: bundles saved before #25);
    # "chat": the checkpoint's processor and chat template build the prompt (path: checkpoints)
    prompt_format: str = "plain"
    architecture: str = "llava"  # config.model_type of the model (medvlm.model.architectures)
    num_beams: int = 1  # generation: 1 = greedy
    stop_strings: list[str] = field(default_factory=list)  # generation stops at (and drops) these
    # what the model reads (the union of its curriculum stages' inputs; bundles saved before: frontal only)
    inputs: list[str] = field(default_factory=lambda: ["frontal"])
    indication_tokens: int = 32  # the indication is cut to this many tokens in the prompt
    head_lateral: bool = False  # the findings head has a (zero-initialised) term on the lateral's tokens
    head_pool: int = 0  # the head averages the token grid to head_pool^2 cells (0: full grid, bundles before)

    def uses(self, name: str) -> bool:
        return name in self.inputs

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["slots"] = [asdict(s) for s in self.slots]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleConfig:
        values = dict(data)
        values["slots"] = [FindingSlot(**s) for s in values.get("slots", [])]
        known = set(cls.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"bundle config has unknown keys {sorted(unknown)}; expected {sorted(known)}")
        return cls(**values)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.slots]

    def threshold(self, name: str) -> float:
        return float(self.thresholds.get(name, 0.5))
