"""Clinician-edited findings checked against the ontology before they are stored or sent to the model."""

from __future__ import annotations

from medvlm.findings import Finding
from medvlm.service.errors import InvalidInputError
from medvlm.service.schemas.reports import FindingModel


def checked_findings(items: list[FindingModel]) -> list[Finding]:
    from medvlm.ontology import load_ontology

    ontology = load_ontology()
    findings = []
    for item in items:
        if item.label not in ontology:
            raise InvalidInputError(
                f"unknown finding label {item.label!r}; expected one of {', '.join(ontology.names)}"
            )
        spec = ontology.get(item.label)
        if item.laterality and item.laterality not in spec.lateralities:
            raise InvalidInputError(
                f"finding {item.label!r} takes laterality "
                f"{spec.lateralities or 'none'}, got {item.laterality!r}"
            )
        if item.severity and item.severity not in spec.severities:
            raise InvalidInputError(
                f"finding {item.label!r} takes severity {spec.severities or 'none'}, got {item.severity!r}"
            )
        finding = item.to_finding()
        # The ontology, not the client, decides what is critical.
        findings.append(Finding.from_dict({**finding.to_dict(), "critical": spec.is_critical(finding)}))
    return findings
