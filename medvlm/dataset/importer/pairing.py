"""Pair reports with studies: by study UID, then accession number, then patient + date within a window.

Each rule only looks at what the rules before it left. A report that finds no study, two equally near
studies, or a study another report already took is left unpaired with that reason; so is every study
without a report. Reasons name no identifier (they go into the dataset's provenance); the operator's
listing adds the report's file and line.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from medvlm.dataset.importer.reports import SourceReport
from medvlm.dataset.importer.studies import Study


@dataclass
class Pairing:
    pairs: list[tuple[Study, SourceReport, str]] = field(default_factory=list)  # (study, report, rule)
    unpaired_reports: list[tuple[SourceReport, str]] = field(default_factory=list)
    unpaired_studies: list[tuple[Study, str]] = field(default_factory=list)


def pair(studies: list[Study], reports: list[SourceReport], window_days: int = 1) -> Pairing:
    result = Pairing()
    taken: dict[str, SourceReport] = {}
    by_uid = {s.study_uid: s for s in studies}
    by_accession: dict[str, list[Study]] = defaultdict(list)
    by_patient: dict[str, list[Study]] = defaultdict(list)
    for s in studies:
        if s.accession:
            by_accession[s.accession].append(s)
        if s.patient_id:
            by_patient[s.patient_id].append(s)

    def take(study: Study, report: SourceReport, rule: str) -> None:
        if study.study_uid in taken:
            result.unpaired_reports.append((report, f"its study ({rule}) is already paired with another "
                                                    f"report ({taken[study.study_uid].fmt})"))
            return
        taken[study.study_uid] = report
        result.pairs.append((study, report, rule))

    for report in reports:
        if not report.text:
            result.unpaired_reports.append((report, "empty report text"))
        elif report.study_uid and report.study_uid in by_uid:
            take(by_uid[report.study_uid], report, "study_uid")
        elif report.accession and len(by_accession.get(report.accession, [])) == 1:
            take(by_accession[report.accession][0], report, "accession")
        elif report.accession and len(by_accession.get(report.accession, [])) > 1:
            result.unpaired_reports.append((report, "its accession number names several studies"))
        elif report.patient_id and report.date and report.patient_id in by_patient:
            near = [(abs((s.date - report.date).days), s) for s in by_patient[report.patient_id]
                    if s.date and abs((s.date - report.date).days) <= window_days]
            near.sort(key=lambda x: x[0])
            if not near:
                result.unpaired_reports.append(
                    (report, f"no study of its patient within {window_days} day(s) of its date"))
            elif len(near) > 1 and near[0][0] == near[1][0]:
                result.unpaired_reports.append(
                    (report, "several studies of its patient are equally near its date"))
            else:
                take(near[0][1], report, "patient_date")
        else:
            why = "no study with its study UID, accession number or patient"
            result.unpaired_reports.append((report, why))
    for study in studies:
        if study.study_uid not in taken:
            why = "no report matched its study UID, accession or patient+date"
            result.unpaired_studies.append((study, why))
    return result
