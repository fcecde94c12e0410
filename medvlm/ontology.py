"""The finding ontology (``curricula/ontology.yaml``): names, synonyms, laterality, severity, critical flag,
report phrases and the IU MeSH mapping.

Validated on load: a bad file is a ConfigError naming the finding and the key."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from medvlm.errors import ConfigError
from medvlm.findings import NO_FINDING, Finding, Laterality, Presence, critical_rule
from medvlm.package_data import ONTOLOGY_PATH

DEFAULT_PATH = ONTOLOGY_PATH
LATERALITIES = ("left", "right", "bilateral")

_REQUIRED = (
    "display",
    "synonyms",
    "lateralities",
    "locations",
    "severities",
    "critical",
    "phrases",
    "mesh",
    "renderable",
)
_OPTIONAL = (
    "patterns", "normal_phrases", "critical_severities", "mesh_exclude", "mesh_location", "absent_implies"
)
_TOP_KEYS = ("locations", "device_types", "severity_words", "findings")
_OPTIONAL_TOP_KEYS = ("normal_statements",)


@dataclass(frozen=True)
class FindingSpec:
    """One finding of the ontology. ``critical`` means critical whenever present; ``critical_severities``
    lists the severities at which it becomes critical otherwise (e.g. a large pleural effusion)."""

    name: str
    display: str
    synonyms: list[str]
    lateralities: list[str]
    locations: list[str]
    severities: list[str]
    critical: bool
    phrases: dict[str, list[str]]
    mesh: list[str]
    renderable: bool
    critical_severities: list[str] = field(default_factory=list)
    normal_phrases: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    mesh_exclude: list[str] = field(default_factory=list)
    mesh_location: dict[str, str] = field(default_factory=dict)
    # Findings that this one's absence also rules out ("no airspace opacity" -> no consolidation either).
    absent_implies: list[str] = field(default_factory=list)

    def is_critical(self, finding: Finding) -> bool:
        """Whether ``finding`` is critical: present or uncertain, and critical by flag or by severity."""
        if finding.label != self.name:
            return False
        return critical_rule(
            finding.presence,
            finding.severity,
            always=self.critical,
            critical_severities=self.critical_severities,
        )

    def with_critical(self, finding: Finding) -> Finding:
        """``finding`` with its ``critical`` flag set by this spec (the ontology, not the caller, decides)."""
        return dataclasses.replace(finding, critical=self.is_critical(finding))

    def worse_severity(self, a: str | None, b: str | None) -> str | None:
        """The more severe of two levels on this finding's scale (either may be None)."""
        if a is None or b is None:
            return a or b
        return a if self.severities.index(a) >= self.severities.index(b) else b

    def render(
        self,
        presence: Presence | str,
        laterality: str | None = None,
        severity: str | None = None,
        location: str | None = None,
        index: int = 0,
    ) -> str:
        """A report sentence from this finding's phrase templates (empty placeholders are dropped)."""
        kind = "absent" if Presence(presence) == Presence.ABSENT else "present"
        templates = self.phrases.get(kind) or []
        if not templates:
            return ""
        text = templates[index % len(templates)].format(**placeholders(laterality, severity, location))
        text = " ".join(text.split()).replace(" .", ".")
        return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class NormalStatement:
    """Text that states several findings absent at once without naming them: a whole-film normal
    ("no acute cardiopulmonary abnormality") or a region's ("the costophrenic angles are sharp")."""

    absent: list[str]
    phrases: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)


def merge_laterality(a: Laterality | None, b: Laterality | None) -> Laterality | None:
    """Two mentions of one finding: the same side stays, different sides make it bilateral."""
    if a is None or b is None or a == b:
        return a or b
    return Laterality.BILATERAL


@dataclass(frozen=True)
class Ontology:
    findings: dict[str, FindingSpec]
    location_words: dict[str, list[str]]
    device_types: dict[str, list[str]]
    severity_words: dict[str, list[str]]
    path: Path | None = None
    normal_statements: list[NormalStatement] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """Finding names in file order (the findings head's output order), ``no_finding`` included."""
        return list(self.findings)

    def get(self, name: str) -> FindingSpec:
        try:
            return self.findings[name]
        except KeyError:
            raise KeyError(f"unknown finding {name!r}; known: {', '.join(self.findings)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.findings

    def is_critical(self, finding: Finding) -> bool:
        return finding.label in self.findings and self.findings[finding.label].is_critical(finding)


def _str_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"ontology: {where} must be a list of non-empty strings, got {value!r}")
    return [v.strip() for v in value]


def _str_map(value: Any, where: str) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise ConfigError(f"ontology: {where} must be a mapping of name -> list of phrases, got {value!r}")
    return {str(k): _str_list(v, f"{where}.{k}") for k, v in value.items()}


def _patterns(value: Any, where: str) -> list[str]:
    patterns = _str_list(value, where)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(
                f"ontology: {where} has an invalid regular expression {pattern!r}: {exc}"
            ) from None
    return patterns


def _parse_normal_statements(value: Any, names: set[str]) -> list[NormalStatement]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"ontology: normal_statements must be a list of mappings, got {value!r}")
    out = []
    for i, raw in enumerate(value):
        where = f"normal_statements[{i}]"
        if not isinstance(raw, dict) or set(raw) - {"absent", "phrases", "patterns"} or "absent" not in raw:
            raise ConfigError(
                f"ontology: {where} must map 'absent' (and 'phrases' / 'patterns'), got {raw!r}"
            )
        absent = _str_list(raw["absent"], f"{where} key 'absent'")
        bad = [n for n in absent if n not in names]
        if bad or not absent:
            raise ConfigError(f"ontology: {where} key 'absent' names unknown finding {(bad or [''])[0]!r}")
        phrases = [p.lower() for p in _str_list(raw.get("phrases"), f"{where} key 'phrases'")]
        patterns = _patterns(raw.get("patterns"), f"{where} key 'patterns'")
        if not phrases and not patterns:
            raise ConfigError(f"ontology: {where} needs 'phrases' or 'patterns'")
        out.append(NormalStatement(absent=absent, phrases=phrases, patterns=patterns))
    return out


def _check_keys(where: str, raw: Any) -> None:
    """A finding is a mapping with every required key, only known keys, flags as booleans, a display name."""
    if not isinstance(raw, dict):
        raise ConfigError(f"ontology: {where} must be a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ConfigError(
            f"ontology: {where} has unknown key {unknown[0]!r}; allowed: {', '.join(_REQUIRED + _OPTIONAL)}"
        )
    for key in _REQUIRED:
        if key not in raw:
            raise ConfigError(f"ontology: {where} is missing required key {key!r}")
    for key in ("critical", "renderable"):
        if not isinstance(raw[key], bool):
            raise ConfigError(f"ontology: {where} key {key!r} must be true or false, got {raw[key]!r}")
    if not isinstance(raw["display"], str) or not raw["display"].strip():
        raise ConfigError(f"ontology: {where} key 'display' must be a non-empty string")


def _subset(values: Any, allowed: Any, where: str, key: str, what: str, noun: str = "") -> list[str]:
    """``values`` as a list of strings, each one of ``allowed``; the error names the first that is not."""
    items = _str_list(values, f"{where} key {key!r}")
    bad = [s for s in items if s not in allowed]
    if bad:
        raise ConfigError(f"ontology: {where} key {key!r} has {noun}{bad[0]!r}{what}")
    return items


# A severity before a participle is an adverb: "the heart is mildly enlarged", never "mild enlarged".
_ADVERBS = {"mild": "mildly", "moderate": "moderately", "severe": "severely"}


def placeholders(laterality: str | None = None, severity: str | None = None,
                 location: str | None = None) -> dict[str, str]:
    """What a phrase template may use: {laterality} {severity} {severity_adverb} {location}."""
    return {"laterality": laterality or "", "severity": severity or "",
            "severity_adverb": _ADVERBS.get(severity or "", severity or ""), "location": location or ""}


def _phrases(where: str, phrases: Any) -> dict[str, list[str]]:
    """Report phrase templates per presence, each formattable with the three known placeholders."""
    if not isinstance(phrases, dict) or set(phrases) - {"present", "absent"}:
        raise ConfigError(f"ontology: {where} key 'phrases' must map only 'present'/'absent' to lists")
    parsed = {k: _str_list(phrases.get(k), f"{where} key 'phrases.{k}'") for k in ("present", "absent")}
    for kind, templates in parsed.items():
        for template in templates:
            try:
                template.format(**placeholders())
            except (KeyError, IndexError, ValueError) as exc:
                allowed = " ".join("{" + name + "}" for name in placeholders())
                raise ConfigError(
                    f"ontology: {where} key 'phrases.{kind}' template {template!r} uses an "
                    f"unknown placeholder ({exc}); allowed: {allowed}"
                ) from None
    return parsed


def _mesh_location(where: str, value: Any, mesh: list[str], locations: list[str]) -> dict[str, str]:
    mesh_location = value or {}
    if not isinstance(mesh_location, dict) or any(
        k not in mesh or v not in locations for k, v in mesh_location.items()
    ):
        raise ConfigError(
            f"ontology: {where} key 'mesh_location' must map its mesh patterns to its locations, "
            f"got {mesh_location!r}"
        )
    return dict(mesh_location)


def _lower_list(raw: dict[str, Any], key: str, where: str) -> list[str]:
    return [s.lower() for s in _str_list(raw.get(key), f"{where} key {key!r}")]


def _parse_finding(name: str, raw: Any, locations: set[str], devices: set[str]) -> FindingSpec:
    where = f"finding {name!r}"
    _check_keys(where, raw)
    allowed_locations = devices if name == "support_device" else locations
    locs = _subset(raw["locations"], allowed_locations, where, "locations",
                   f"; known: {', '.join(sorted(allowed_locations))}", noun="unknown location ")
    severities = _str_list(raw["severities"], f"{where} key 'severities'")
    mesh = _str_list(raw["mesh"], f"{where} key 'mesh'")
    return FindingSpec(
        name=name,
        display=raw["display"].strip(),
        synonyms=_lower_list(raw, "synonyms", where),
        lateralities=_subset(raw["lateralities"], LATERALITIES, where, "lateralities",
                             f"; allowed: {', '.join(LATERALITIES)}"),
        locations=locs,
        severities=severities,
        critical=raw["critical"],
        phrases=_phrases(where, raw["phrases"]),
        mesh=mesh,
        renderable=raw["renderable"],
        critical_severities=_subset(raw.get("critical_severities"), severities, where, "critical_severities",
                                    ", not in its severities"),
        normal_phrases=_lower_list(raw, "normal_phrases", where),
        mesh_exclude=_lower_list(raw, "mesh_exclude", where),
        mesh_location=_mesh_location(where, raw.get("mesh_location"), mesh, locs),
        patterns=_patterns(raw.get("patterns"), f"{where} key 'patterns'"),
        absent_implies=_str_list(raw.get("absent_implies"), f"{where} key 'absent_implies'"),
    )


def parse_ontology(data: Any, path: Path | None = None) -> Ontology:
    """Validate a parsed YAML document and build the Ontology (raises ConfigError on any problem)."""
    if not isinstance(data, dict):
        raise ConfigError(f"ontology: expected a mapping with keys {', '.join(_TOP_KEYS)}")
    unknown = sorted(set(data) - set(_TOP_KEYS) - set(_OPTIONAL_TOP_KEYS))
    if unknown:
        allowed = ", ".join(_TOP_KEYS + _OPTIONAL_TOP_KEYS)
        raise ConfigError(f"ontology: unknown top-level key {unknown[0]!r}; allowed: {allowed}")
    for key in _TOP_KEYS:
        if key not in data:
            raise ConfigError(f"ontology: missing top-level key {key!r}")
    location_words = _str_map(data["locations"], "locations")
    device_types = _str_map(data["device_types"], "device_types")
    severity_words = _str_map(data["severity_words"], "severity_words")
    raw_findings = data["findings"]
    if not isinstance(raw_findings, dict) or not raw_findings:
        raise ConfigError("ontology: 'findings' must be a non-empty mapping of name -> finding")
    if NO_FINDING not in raw_findings:
        raise ConfigError("ontology: 'findings' must include 'no_finding'")
    findings = {
        str(name): _parse_finding(str(name), raw, set(location_words), set(device_types))
        for name, raw in raw_findings.items()
    }
    for spec in findings.values():
        bad = [s for s in spec.severities if s not in severity_words]
        if bad:
            raise ConfigError(
                f"ontology: finding {spec.name!r} key 'severities' has {bad[0]!r} with no entry in "
                "severity_words"
            )
        bad = [s for s in spec.absent_implies if s not in findings]
        if bad:
            raise ConfigError(
                f"ontology: finding {spec.name!r} key 'absent_implies' names unknown finding {bad[0]!r}"
            )
    return Ontology(
        findings=findings,
        location_words=location_words,
        device_types=device_types,
        severity_words=severity_words,
        path=path,
        normal_statements=_parse_normal_statements(data.get("normal_statements"), set(findings)),
    )


def load_ontology(path: Path | None = None) -> Ontology:
    """Load and validate the ontology (default ``curricula/ontology.yaml``); cached per resolved path."""
    return _load(Path(path or DEFAULT_PATH).resolve())


@lru_cache(maxsize=8)
def _load(path: Path) -> Ontology:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"ontology: cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"ontology: {path} is not valid YAML: {exc}") from None
    return parse_ontology(data, path)
