"""The data card of an imported dataset: counts per finding, view, split and year (from the manifest)."""

from __future__ import annotations

from collections import Counter
from typing import Any


def data_card(records: list[dict[str, Any]]) -> dict[str, Any]:
    findings: dict[str, Counter] = {}
    views: Counter = Counter()
    splits: Counter = Counter()
    years: Counter = Counter()
    patients: dict[str, set[str]] = {}
    for r in records:
        splits[r["split"]] += 1
        prov = r.get("provenance", {})
        years[str(prov.get("year") or "unknown")] += 1
        views.update(prov.get("views", []))
        patients.setdefault(r["split"], set()).add(prov.get("patient", r["study_id"]))
        for f in r["findings"]:
            findings.setdefault(f["label"], Counter())[f.get("presence", "present")] += 1
    return {
        "studies": len(records),
        "splits": dict(sorted(splits.items())),
        "patients_per_split": {k: len(v) for k, v in sorted(patients.items())},
        "views": dict(sorted(views.items())),
        "years": dict(sorted(years.items())),
        "findings": {k: dict(sorted(v.items())) for k, v in sorted(findings.items())},
    }


def data_card_markdown(card: dict[str, Any]) -> str:
    lines = ["# Data card: imported hospital studies", "",
             f"{card['studies']} studies. Labels: the report labeler on the de-identified text "
             "(uncertain mentions counted apart, never as present).", ""]
    for title, key in (("Split", "splits"), ("Patients per split", "patients_per_split"),
                       ("View (instances)", "views"), ("Year", "years")):
        rows = [f"| {k} | {v} |" for k, v in card[key].items()]
        lines += [f"| {title} | count |", "|---|---|", *rows, ""]
    lines += ["| Finding | present | uncertain |", "|---|---|---|"]
    for name, counts in card["findings"].items():
        lines.append(f"| {name} | {counts.get('present', 0)} | {counts.get('uncertain', 0)} |")
    return "\n".join(lines) + "\n"
