"""IU studies as render requests: the findings of one real report, or the reason it cannot be drawn.

Ground truth is the report's MeSH indexing (``mesh_findings``): it was assigned by people, and it is
what the labeler is scored against. The labeler refines it where MeSH is coarse: a MeSH finding without
side, severity or location takes them from the labeler's reading of the same label in the text (e.g.
"Medical Device" -> which device). A report is skipped when it has a finding the renderer cannot draw
(fracture; a device of unknown or undrawable type) or when the labeler reads a drawable finding as
plainly present that MeSH does not list: the film would then contradict the text. That second skip is
for training only: a test report is rendered from its MeSH truth all the same (``keep_disagreement``),
with the labels the labeler reads beyond MeSH recorded, because dropping the test reports the labeler
disagrees with would select the test set toward the labeler's own view.
"""

from __future__ import annotations

from dataclasses import dataclass

from medvlm.corpus.iu import IUReport, mesh_findings
from medvlm.findings import NO_FINDING, Finding, Presence
from medvlm.labeler import label_report
from medvlm.ontology import Ontology
from medvlm.synth.compose import RENDERABLE
from medvlm.synth.devices import DEVICES


@dataclass(frozen=True)
class IUStudy:
    report: IUReport
    findings: list[Finding] | None  # None when skipped
    skip_reason: str | None = None
    disagreement: tuple[str, ...] = ()  # labels the labeler reads as present that MeSH does not list


def _refine(truth: Finding, reading: Finding | None, location_is_default: bool) -> Finding:
    """MeSH's side, severity and location, with the text's where MeSH has none. ``location_is_default``:
    the label's MeSH location is only what its heading usually means (``mesh_location``: "Tube, Inserted"
    -> endotracheal tube), so a device the text names wins (in IU the text names another device, most
    often a tracheostomy or an enteric tube, in 25 of the 27 IU reports with that heading; each was
    drawn as an endotracheal tube, and its film contradicted its own text)."""
    if reading is None:
        return truth
    location = (
        (reading.location or truth.location) if location_is_default else (truth.location or reading.location)
    )
    return Finding(
        **{
            **truth.__dict__,
            "laterality": truth.laterality or reading.laterality,
            "severity": truth.severity or reading.severity,
            "location": location,
        }
    )


def iu_study(report: IUReport, onto: Ontology, keep_disagreement: bool = False) -> IUStudy:
    truth = mesh_findings(report, onto)
    text = " ".join(t for t in (report.findings, report.impression) if t)
    read = {f.label: f for f in label_report(text, onto) if f.presence != Presence.ABSENT}
    out = []
    for f in truth:
        spec = onto.get(f.label)
        if not spec.renderable or f.label not in RENDERABLE:
            return IUStudy(report, None, f"unrenderable:{f.label}")
        f = _refine(f, read.get(f.label), location_is_default=bool(spec.mesh_location))
        if f.label == "support_device" and f.location not in DEVICES:
            return IUStudy(report, None, f"unrenderable:device:{f.location or 'unknown'}")
        out.append(f)
    listed = {f.label for f in truth}
    extra = sorted(
        name
        for name, f in read.items()
        if name not in listed and name != NO_FINDING and f.presence == Presence.PRESENT
    )
    if extra and not keep_disagreement:
        return IUStudy(report, None, f"text-not-in-mesh:{extra[0]}")
    return IUStudy(report, out, disagreement=tuple(extra))
