"""The worklist query: filters, critical first then newest, one page, in one SQL statement.

Every study has a ``StudyState`` row carrying the sort keys (migration 0007), so the page is read from
an index in the worklist's order (``ix_study_states_worklist``, or ``..._status`` under a status
filter): O(offset + page) rows, not a sort of every study. Patient, report and modalities are joined to
those ``page_size`` rows only, and the total is a count on the same filters, in the same statement.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, func, literal_column, or_, true
from sqlmodel import col, select

from medvlm.db.models import Patient, Series, Study
from medvlm.service.auth.policy import sees_all_studies
from medvlm.service.auth.principal import Principal
from medvlm.service.db.tables import Report, StudyState
from medvlm.service.jobs.drafter import is_unvalidated
from medvlm.service.schemas.studies import StudySummary, WorklistPage
from medvlm.service.workflow.draft_output import outside_intended_use_flags, unfamiliar_film_flags


def _dicom_date(value: date) -> str:
    return value.strftime("%Y%m%d")


def modalities_of(study_uid: Any) -> Any:
    """A scalar subquery: the modalities of the study ``study_uid`` (a column), backslash-joined."""
    return (
        select(func.aggregate_strings(col(Series.modality), literal_column("'\\'")))  # type: ignore[arg-type]
        .where(col(Series.study_instance_uid) == study_uid)
        .scalar_subquery()
    )


def split_modalities(joined: str | None) -> list[str]:
    return sorted({m for m in (joined or "").split("\\") if m})


@dataclass(frozen=True)
class _Shape:
    """Which filters a worklist request uses: one statement is built (and compiled) per shape, once."""

    status: bool
    modality: bool
    date_from: bool
    date_to: bool
    q: bool
    own_studies_only: bool  # an integration key: only the studies it sent
    lateral: bool  # PostgreSQL: join the page's rows one by one (see ``_page_statement``)
    uncertain_first: bool = False  # order=uncertainty: nearest calls first, studies without a draft last


def _conditions(shape: _Shape) -> list[Any]:
    """The filters as SQL on ``StudyState``, with bound parameters named after the request's."""
    state_uid = col(StudyState.study_instance_uid)
    conditions: list[Any] = []
    if shape.status:
        conditions.append(col(StudyState.status) == bindparam("status"))
    if shape.modality:
        conditions.append(
            exists().where(
                and_(
                    col(Series.study_instance_uid) == state_uid, col(Series.modality) == bindparam("modality")
                )
            )
        )
    if shape.date_from:
        conditions.append(col(StudyState.study_date) >= bindparam("date_from"))
    if shape.date_to:
        conditions.append(col(StudyState.study_date) <= bindparam("date_to"))
    if shape.q:
        conditions.append(
            exists().where(
                and_(
                    col(Study.study_instance_uid) == state_uid,
                    or_(
                        col(Study.accession_number) == bindparam("q"),
                        exists().where(
                            and_(
                                col(Patient.id) == col(Study.patient_pk),
                                col(Patient.patient_id) == bindparam("q"),
                            )
                        ),
                    ),
                )
            )
        )
    if shape.own_studies_only:
        conditions.append(col(StudyState.source_api_key_id) == bindparam("api_key_id"))
    return conditions


def _uncertain_first(shape: _Shape, uncertainty: Any) -> list[Any]:
    """order=uncertainty: the smallest margin first; no margin (no draft yet) after every drafted study.
    (``IS NULL`` first, not NULLS LAST: the same SQL on SQLite and PostgreSQL.)"""
    return [uncertainty.is_(None), uncertainty] if shape.uncertain_first else []


@lru_cache(maxsize=256)
def _page_statement(shape: _Shape, with_total: bool = True) -> tuple[Any, Any]:
    """The page statement (with the total, unless ``with_total`` is False) and the total alone, for ``shape``.

    Built once per shape: building and cache-keying this statement took more CPU than PostgreSQL spent
    running it. On PostgreSQL the page's 50 rows reach ``studies`` through a LATERAL subquery that the
    planner may not flatten (``OFFSET 0``): flattened, it hashed the whole studies table to join 50 rows.
    """
    conditions = _conditions(shape)
    state_uid = col(StudyState.study_instance_uid)
    page_q = (
        select(  # type: ignore[call-overload]  # labelled columns
            state_uid.label("uid"),
            col(StudyState.status).label("status"),
            col(StudyState.critical).label("critical"),
            col(StudyState.study_date).label("sort_date"),
            col(StudyState.study_created_at).label("sort_created"),
            # only for its order: the default page stays an index-only scan (0008)
            *([col(StudyState.uncertainty).label("uncertainty")] if shape.uncertain_first else []),
        )
        .where(*conditions)
        .order_by(*_uncertain_first(shape, col(StudyState.uncertainty)))
        .order_by(  # exactly the index's order (service.db.tables._WORKLIST_ORDER)
            col(StudyState.critical).desc(),
            col(StudyState.study_date).desc(),
            col(StudyState.study_created_at).desc(),
            state_uid,
        )
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
        .subquery("page")
    )
    total_q = select(func.count()).select_from(StudyState).where(*conditions).scalar_subquery()
    report_id = (
        select(Report.id).where(col(Report.study_instance_uid) == page_q.c.uid).limit(1).scalar_subquery()
    )
    model_version = (
        select(Report.model_version).where(col(Report.study_instance_uid) == page_q.c.uid).limit(1)
        .scalar_subquery()
    )
    flags = (  # read for the page's rows only (drafted outside intended use: a flag of its own kind)
        select(Report.consistency_flags).where(col(Report.study_instance_uid) == page_q.c.uid).limit(1)
        .scalar_subquery()
    )

    def state_of_row(column: Any) -> Any:  # a state column outside the index, read for the page's rows only
        return select(column).where(state_uid == page_q.c.uid).scalar_subquery()
    # the page's margins: from the page query when it sorts on them, else read for its rows alone
    uncertainty: Any = page_q.c.uncertainty if shape.uncertain_first else (
        state_of_row(StudyState.uncertainty)
    )
    study: Any = Study.__table__  # type: ignore[attr-defined]
    on_page: Any = study.c.study_instance_uid == page_q.c.uid
    if shape.lateral:
        needed = ("study_instance_uid", "patient_pk", "accession_number", "study_date", "description")
        study = select(*(study.c[name] for name in needed)).where(on_page).offset(0).lateral("study")
        on_page = true()
    page = (
        select(  # type: ignore[call-overload]  # labelled columns, read by name
            *(c for c in page_q.c if c.name != "uncertainty"),
            uncertainty.label("uncertainty"),
            study.c.accession_number,
            study.c.study_date,
            study.c.description,
            Patient.patient_id,
            Patient.name,
            report_id.label("report_id"),
            model_version.label("model_version"),
            flags.label("flags"),
            state_of_row(StudyState.status_reason).label("status_reason"),
            state_of_row(StudyState.views).label("views"),
            modalities_of(page_q.c.uid).label("mods"),
            *([total_q.label("total")] if with_total else []),
        )
        .select_from(page_q)
        .join(study, on_page)
        .join(Patient, col(Patient.id) == study.c.patient_pk)
        .order_by(*_uncertain_first(shape, uncertainty))
        .order_by(
            page_q.c.critical.desc(), page_q.c.sort_date.desc(), page_q.c.sort_created.desc(), page_q.c.uid
        )
    )
    return page, select(total_q)


_PAGING = ("offset", "limit")


@dataclass(frozen=True)
class WorklistRequest:
    """What one worklist page is made of: the statement's shape and its bound parameters (the caller's
    scope included), hashable, so that it also keys the cache (``worklist_cache``)."""

    shape: _Shape
    params: tuple[tuple[str, Any], ...]  # sorted by name
    page: int
    page_size: int

    @property
    def filter_key(self) -> tuple[Any, ...]:
        """The same without paging: every page of one filter has this key (and the same total)."""
        return (self.shape, tuple(item for item in self.params if item[0] not in _PAGING))


def worklist_request(
    principal: Principal,
    *,
    dialect: str,
    status: str | None,
    modality: str | None,
    date_from: date | None,
    date_to: date | None,
    q: str | None,
    page: int,
    page_size: int,
    order: str = "default",
) -> WorklistRequest:
    own_only = not sees_all_studies(principal.role)
    shape = _Shape(
        status=bool(status), modality=bool(modality), date_from=bool(date_from), date_to=bool(date_to),
        q=bool(q), own_studies_only=own_only, lateral=dialect == "postgresql",
        uncertain_first=order == "uncertainty",
    )
    params: dict[str, Any] = {"offset": (page - 1) * page_size, "limit": page_size}
    if status:
        params["status"] = status
    if modality:
        params["modality"] = modality.upper()
    if date_from:
        params["date_from"] = _dicom_date(date_from)
    if date_to:
        params["date_to"] = _dicom_date(date_to)
    if q:
        params["q"] = q
    if own_only:
        params["api_key_id"] = principal.api_key_id
    return WorklistRequest(shape, tuple(sorted(params.items())), page, page_size)


def _flag_list(flags: Any) -> Any:
    if isinstance(flags, str):  # a JSON column read through a scalar subquery may come back as text
        try:
            return json.loads(flags)
        except ValueError:
            return []
    return flags


def drafted_outside_intended_use(flags: Any) -> bool:
    """Whether a report's consistency flags hold the intended-use override's (``jobs.drafter``)."""
    return bool(outside_intended_use_flags(_flag_list(flags)))


def drafted_on_unfamiliar_film(flags: Any) -> bool:
    """Whether a report's consistency flags hold the unfamiliar-film flag (``inference.uncertainty``)."""
    return bool(unfamiliar_film_flags(_flag_list(flags)))


def read_worklist(connection: Connection, request: WorklistRequest, total: int | None = None) -> WorklistPage:
    """Run ``request``; ``total``, when the caller already knows it, spares counting the matches again."""
    params = dict(request.params)
    page_stmt, total_stmt = _page_statement(request.shape, with_total=total is None)
    rows: Sequence[Any] = connection.execute(page_stmt, params).all()
    if total is None:  # read with the page; past the last page (or nothing matches), counted on its own
        total = int(rows[0].total) if rows else int(connection.execute(total_stmt, params).scalar_one())
    items = [
        StudySummary(
            study_instance_uid=row.uid,
            patient_id=row.patient_id,
            patient_name=row.name,
            accession_number=row.accession_number,
            study_date=row.study_date,
            description=row.description,
            modalities=split_modalities(row.mods),
            status=row.status,
            critical=bool(row.critical),
            report_id=row.report_id,
            uncertainty=row.uncertainty,
            status_reason=row.status_reason,
            model_version=row.model_version,
            unvalidated_model=is_unvalidated(row.model_version),
            views=row.views or [],
            outside_intended_use=drafted_outside_intended_use(row.flags),
            unfamiliar_film=drafted_on_unfamiliar_film(row.flags),
        )
        for row in rows
    ]
    return WorklistPage(items=items, total=total, page=request.page, page_size=request.page_size)
