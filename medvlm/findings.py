"""The structured finding shared by the labeler, the data builder, the model, the service and the exports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

NO_FINDING = "no_finding"  # the ontology's summary label: present when nothing else is


class Presence(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    UNCERTAIN = "uncertain"


class Laterality(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BILATERAL = "bilateral"


@dataclass(frozen=True)
class Finding:
    """One finding about one study.

    ``label`` is an ontology name (``curricula/ontology.yaml``); ``severity`` is one value of that
    finding's severity scale; ``location`` a lobe or zone the ontology allows; ``probability`` is the
    model's presence probability (None for findings read from text or ground truth) and ``threshold`` the
    probability at which the model calls it present.
    """

    label: str
    presence: Presence = Presence.PRESENT
    laterality: Laterality | None = None
    severity: str | None = None
    location: str | None = None
    probability: float | None = None
    threshold: float | None = None  # the model's presence threshold for this label (present at >= it)
    critical: bool = False
    change: str | None = None  # "new", "unchanged", "improved", "worsened", "resolved"
    evidence: str | None = None  # the sentence it was read from, when it came from text
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["presence"] = self.presence.value
        data["laterality"] = self.laterality.value if self.laterality else None
        # Leave out what is unset; a probability or threshold of exactly 0 is a value, not unset (0 == False).
        return {k: v for k, v in data.items()
                if k in ("label", "presence") or not (v is None or v == {} or v is False)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown finding keys {sorted(unknown)}; expected a subset of {sorted(known)}")
        values = dict(data)
        values["presence"] = Presence(values.get("presence", Presence.PRESENT))
        if values.get("laterality"):
            values["laterality"] = Laterality(values["laterality"])
        return cls(**values)


def critical_rule(
    presence: Presence | str, severity: str | None, *, always: bool, critical_severities: list[str]
) -> bool:
    """THE critical-finding rule, the only definition (the ontology, the model, the guard, the service and,
    through ``/ui/ontology.json``, the UI all use it): a present or uncertain finding is critical when the
    finding always is (pneumothorax), or when its severity is one of its critical severities (a large
    pleural effusion). An uncertain critical finding is still called: the reader must look."""
    if Presence(presence) == Presence.ABSENT:
        return False
    return always or (severity is not None and severity in critical_severities)
