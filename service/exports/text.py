"""Wording shared by every export: finding names, probabilities, the AI-assistance statement."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import lru_cache

from medvlm.findings import Finding
from medvlm.service.exports.context import ReportContext

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _displays() -> dict[str, str]:
    """Ontology display names; exports still work (with raw labels) if the ontology cannot be loaded."""
    from medvlm.errors import ConfigError
    from medvlm.ontology import load_ontology

    try:
        ontology = load_ontology()
    except ConfigError as exc:  # the loader's only error for a missing or malformed file
        log.warning("exports name findings by their raw labels: %s", exc)
        return {}
    return {name: ontology.get(name).display for name in ontology.names}


def display_name(label: str) -> str:
    return _displays().get(label) or label.replace("_", " ").capitalize()


def probability_text(finding: Finding) -> str:
    return "" if finding.probability is None else f"{finding.probability * 100:.0f}%"


def utc_text(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def attestation(ctx: ReportContext) -> str:
    """The line every export carries: who is accountable for the text."""
    if ctx.is_signed and ctx.signer and ctx.signed_at:
        return f"AI-assisted draft, reviewed and signed by {ctx.signer} on {utc_text(ctx.signed_at)}"
    return "AI-generated draft: not yet reviewed or signed by a radiologist"


def plain_text_report(ctx: ReportContext) -> str:
    """The report as plain text (FHIR presentedForm, SR fallback)."""
    lines = [f"FINDINGS:\n{ctx.findings_text.strip()}", f"IMPRESSION:\n{ctx.impression.strip()}"]
    for add in ctx.addenda:
        lines.append(f"ADDENDUM ({add.author}, {utc_text(add.created_at)}):\n{add.text.strip()}")
    lines.append(attestation(ctx))
    if ctx.model_version:
        lines.append(f"Model version: {ctx.model_version}")
    return "\n\n".join(lines) + "\n"
