"""Signed reports as de-identified ORIGINAL (model) / FINAL (signed) pairs: corrections training data."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from sqlmodel import func, select

from medvlm.evaluation.corrections import Pair, correction_burden
from medvlm.service.api.deps import CorrectionsReaderDep, SessionDep, SettingsDep
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.db.tables import Report
from medvlm.service.schemas.corrections import CorrectionBurden
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


def _text(findings_text: str | None, impression: str | None) -> str:
    return f"{findings_text or ''}\n{impression or ''}"


@router.get("/burden", response_model=CorrectionBurden)
def correction_burden_view(
    session: SessionDep,
    caller: CorrectionsReaderDep,
    model_version: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> CorrectionBurden:
    """Per model version, from the signed reports: per-finding acceptance, additions, removals, changes,
    and the text's edit distance (aggregates only: no study, patient or text leaves)."""
    signed = select(Report).where(Report.status == ReportStatus.SIGNED)
    if model_version:
        signed = signed.where(Report.model_version == model_version)
    pairs = []
    for r in session.exec(signed).all():
        original = r.original or {}
        pairs.append(Pair(
            model_version=r.model_version or "unknown",
            original_findings=original.get("findings", []),
            final_findings=r.findings,
            original_text=_text(original.get("findings_text"), original.get("impression")),
            final_text=_text(r.findings_text, r.impression),
        ))
    audit(
        session,
        actor=caller.actor,
        action="corrections.burden",
        resource_type="corrections",
        resource_id=model_version or "-",
        detail={"reports": len(pairs)},
    )
    return CorrectionBurden.model_validate({"versions": correction_burden(pairs)})
