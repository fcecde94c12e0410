"""A radiologist asks for a model draft: again, or for a study outside intended use (audited).

The request is the audit row: ``study.draft_requested`` on the job, with ``override_intended_use``. The
worker drafts such a job even when the intended-use gate refuses the study, and the draft then carries an
``intended_use`` flag naming who asked and why the gate refused, shown with the draft and at sign-off.
"""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from medvlm.service.api.deps import ReportWriterDep, SessionDep, SettingsDep
from medvlm.service.api.ids import StudyUID
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.errors import ConflictError
from medvlm.service.jobs import queue
from medvlm.service.studies.access import visible_study

router = resource_router(prefix="/studies", tags=["studies"])


class DraftRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    override_intended_use: bool = False  # draft even if the study is outside intended use
    reason: str | None = Field(default=None, max_length=500)


class DraftRequested(BaseModel):
    job_id: str
    override_intended_use: bool


@router.post("/{study_uid}/draft", response_model=DraftRequested, status_code=202)
def request_draft(study_uid: StudyUID, body: DraftRequest, request: Request, session: SessionDep,
                  settings: SettingsDep, caller: ReportWriterDep) -> DraftRequested:
    visible_study(session, caller, study_uid)
    job = queue.enqueue(session, study_uid, max_attempts=settings.job_max_attempts)
    if job is None:
        raise ConflictError(f"study {study_uid} has a report under review or signed: it is not redrafted")
    audit(session, actor=caller.actor, action=queue.DRAFT_REQUESTED, resource_type="draft_job",
          resource_id=job.id,
          detail={"study_instance_uid": study_uid, "override_intended_use": body.override_intended_use,
                  "reason": body.reason, "requested_by": caller.name})
    request.app.state.wake.set()
    return DraftRequested(job_id=job.id, override_intended_use=body.override_intended_use)
