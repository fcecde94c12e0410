"""Signed reports as de-identified ORIGINAL (model) / FINAL (signed) pairs: corrections training data."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from sqlmodel import func, select

from medvlm.service.api.deps import CorrectionsReaderDep, SessionDep, SettingsDep
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.db.tables import Report
from medvlm.service.schemas.reports import CorrectionsPage
from medvlm.service.statuses import ReportStatus
from medvlm.service.workflow.public import correction_pair

router = resource_router(prefix="/corrections", tags=["corrections"])


@router.get("", response_model=CorrectionsPage)
def list_corrections(
    session: SessionDep,
    settings: SettingsDep,
    caller: CorrectionsReaderDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CorrectionsPage:
    signed = select(Report).where(Report.status == ReportStatus.SIGNED)
    total = session.exec(select(func.count()).select_from(signed.subquery())).one()
    rows = session.exec(
        signed.order_by(Report.signed_at, Report.id)  # type: ignore[arg-type]
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    audit(
        session,
        actor=caller.actor,
        action="corrections.read",
        resource_type="corrections",
        resource_id="-",
        detail={"page": page, "returned": len(rows)},
    )
    return CorrectionsPage(
        items=[correction_pair(session, r, settings.secret_key.encode()) for r in rows],
        total=int(total),
        page=page,
        page_size=page_size,
    )
