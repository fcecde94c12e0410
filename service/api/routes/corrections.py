"""Signed reports as ORIGINAL (model) / FINAL (signed) pairs: the training data of the corrections stage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import func, select

from service.api.deps import CorrectionsReaderDep, SessionDep
from service.audit import audit
from service.db.tables import Report
from service.schemas.reports import CorrectionsPage
from service.workflow.public import correction_pair

router = APIRouter(prefix="/corrections", tags=["corrections"])
ReaderDep = CorrectionsReaderDep


@router.get("", response_model=CorrectionsPage)
def list_corrections(
    session: SessionDep,
    caller: ReaderDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CorrectionsPage:
    signed = select(Report).where(Report.status == "signed")
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
        items=[correction_pair(r) for r in rows], total=int(total), page=page, page_size=page_size
    )
