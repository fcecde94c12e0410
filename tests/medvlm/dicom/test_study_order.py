"""The one study order: series by number then UID, instances by number then UID."""

from __future__ import annotations

from sqlmodel import Session

from medvlm.db import get_engine, migrate
from medvlm.db.models import Instance, Patient, Series, Study
from medvlm.dicom.study_order import study_instances


def test_instances_come_in_series_then_instance_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'order.db'}"
    migrate(url)
    with Session(get_engine(url)) as session:
        patient = Patient(patient_id="P", name="X")
        session.add(patient)
        session.flush()
        session.add(Study(study_instance_uid="1.2", patient_pk=patient.id))
        session.flush()
        # Two series share number 1 (UID decides), one has number 0; instance numbers out of insert order.
        for series_uid, number in (("1.2.9", 1), ("1.2.5", 1), ("1.2.7", 0)):
            session.add(Series(series_instance_uid=series_uid, study_instance_uid="1.2",
                               series_number=number))
        session.flush()
        for sop, series_uid, number in (("1.3.2", "1.2.5", 2), ("1.3.1", "1.2.5", 1), ("1.3.9", "1.2.9", 1),
                                        ("1.3.8", "1.2.7", 5), ("1.3.0", "1.2.5", 1)):
            session.add(Instance(sop_instance_uid=sop, series_instance_uid=series_uid, instance_number=number,
                                 sop_class_uid="1.2.840.10008.5.1.4.1.1.1", path=f"/{sop}", sha256="0" * 64,
                                 size_bytes=1, rows=1, columns=1, photometric="MONOCHROME2",
                                 bits_allocated=16, bits_stored=12))
        session.commit()
        order = [instance.sop_instance_uid for instance, _ in session.exec(study_instances("1.2")).all()]
    assert order == ["1.3.8", "1.3.0", "1.3.1", "1.3.2", "1.3.9"]
