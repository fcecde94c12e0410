"""Read-side queries over the DICOM index (for the CLI; the service has its own schemas)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, func, select

from medvlm.db import get_engine
from medvlm.db.models import Instance, Patient, Series, Study
from medvlm.dicom.study_order import study_instances
from medvlm.errors import NotFoundError
from medvlm.settings import Settings


@dataclass
class StudyRow:
    study_instance_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    accession_number: str
    description: str
    modalities: list[str]
    series: int
    instances: int


@dataclass
class IndexedStudy:
    study: Study
    patient: Patient
    series: list[tuple[Series, list[Instance]]] = field(default_factory=list)

    def first_instance(self) -> Instance:
        for _series, instances in self.series:
            if instances:
                return instances[0]
        raise NotFoundError(f"study {self.study.study_instance_uid} has no instances")

    def summary(self) -> str:
        s, p = self.study, self.patient
        lines = [f"Study {s.study_instance_uid}",
                 f"  patient {p.patient_id or '-'} {p.name or '-'} "
                 f"(sex {p.sex or '-'}, born {p.birth_date or '-'})",
                 f"  date {s.study_date or '-'} accession {s.accession_number or '-'} "
                 f"description {s.description or '-'}"]
        for series, instances in self.series:
            lines.append(f"  series {series.series_instance_uid} {series.modality} #{series.series_number} "
                         f"{series.description} ({len(instances)} instance(s))")
            for i in instances:
                lines.append(f"    {i.sop_instance_uid} {i.rows}x{i.columns} frames {i.frames} "
                             f"{i.photometric} "
                             f"window {i.window_center}/{i.window_width} sha256 {i.sha256[:12]}")
        return "\n".join(lines)


def indexed_studies(settings: Settings) -> list[StudyRow]:
    with Session(get_engine(settings.resolved_database_url)) as session:
        counts = session.exec(
            select(Series.study_instance_uid, Series.modality, func.count(col(Instance.sop_instance_uid)))
            .join(Instance, col(Instance.series_instance_uid) == col(Series.series_instance_uid))
            .group_by(Series.study_instance_uid, Series.series_instance_uid, Series.modality)).all()
        per_study: dict[str, tuple[set[str], int, int]] = {}
        for study_uid, modality, n in counts:
            modalities, series, instances = per_study.get(study_uid, (set(), 0, 0))
            modalities.add(modality)
            per_study[study_uid] = (modalities, series + 1, instances + n)
        rows = session.exec(select(Study, Patient).join(Patient, col(Patient.id) == col(Study.patient_pk))
                            .order_by(col(Study.created_at).desc(), col(Study.study_instance_uid))).all()
        result = []
        for study, patient in rows:
            modalities, series, instances = per_study.get(study.study_instance_uid, (set(), 0, 0))
            result.append(StudyRow(study.study_instance_uid, patient.patient_id, patient.name,
                                   study.study_date, study.accession_number, study.description,
                                   sorted(modalities), series, instances))
        return result


def indexed_study(settings: Settings, study_uid: str) -> IndexedStudy:
    with Session(get_engine(settings.resolved_database_url), expire_on_commit=False) as session:
        study = session.get(Study, study_uid)
        if study is None:
            raise NotFoundError(f"no study with Study Instance UID {study_uid!r} "
                                "(`medvlm studies` lists them)")
        patient = session.get(Patient, study.patient_pk)
        assert patient is not None
        detail = IndexedStudy(study=study, patient=patient)
        for instance, series in session.exec(study_instances(study_uid)).all():
            if not detail.series or detail.series[-1][0].series_instance_uid != series.series_instance_uid:
                detail.series.append((series, []))
            detail.series[-1][1].append(instance)
        return detail
