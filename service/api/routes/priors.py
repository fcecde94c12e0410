"""Prior studies of a study's patient: list what is stored, fetch more from the configured PACS."""

from __future__ import annotations

from dataclasses import asdict

from medvlm.service.api.deps import SessionDep, SettingsDep, StudyReaderDep
from medvlm.service.api.ids import StudyUID
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.schemas.priors import PriorFetchResult, PriorPublic
from medvlm.service.studies.access import visible_study
from medvlm.service.studies.priors import fetch_priors, list_priors

router = resource_router(prefix="/studies", tags=["priors"])


@router.get("/{study_uid}/priors", response_model=list[PriorPublic])
def get_priors(study_uid: StudyUID, session: SessionDep, caller: StudyReaderDep) -> list[PriorPublic]:
    visible_study(session, caller, study_uid)
    priors = list_priors(session, study_uid)
    audit(
        session,
        actor=caller.actor,
        action="study.priors",
        resource_type="study",
        resource_id=study_uid,
        detail={"priors": len(priors)},
    )
    return [PriorPublic(**asdict(p)) for p in priors]


@router.post("/{study_uid}/priors/fetch", response_model=PriorFetchResult)
def fetch(
    study_uid: StudyUID, session: SessionDep, settings: SettingsDep, caller: StudyReaderDep
) -> PriorFetchResult:
    visible_study(session, caller, study_uid)
    result = fetch_priors(session, settings, study_uid)
    audit(
        session,
        actor=caller.actor,
        action="study.priors.fetch",
        resource_type="study",
        resource_id=study_uid,
        detail={"retrieved": result.retrieved, "instances": result.instances},
    )
    return PriorFetchResult(
        found=[m.study_instance_uid for m in result.found],
        retrieved=result.retrieved,
        already_stored=result.already_stored,
        instances=result.instances,
    )
