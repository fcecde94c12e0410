"""Register, list and promote model versions.

Each call migrates the database once per process (``medvlm train`` may be the first command a fresh
installation runs) and works in one transaction, so that a refused promotion changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from medvlm.db import get_engine, migrate, session_scope
from medvlm.errors import ConfigError, NotFoundError, PromotionRefusedError
from medvlm.registry.card import PROVENANCE, read_card
from medvlm.registry.floors import floor_reasons, load_floors
from medvlm.registry.gate import (
    FINDING_AUROC,
    FINDING_POSITIVES,
    check_tolerance,
    gate_reasons,
    metric_number,
)
from medvlm.registry.schemas import ModelVersionPublic
from medvlm.registry.tables import ModelVersion, VersionStatus
from medvlm.settings import Settings, get_settings


@lru_cache(maxsize=8)
def _migrated(url: str) -> Engine:
    migrate(url)
    return get_engine(url)


def ready_engine(settings: Settings | None = None) -> Engine:
    """The engine of the settings' database, migrated once per process."""
    return _migrated((settings or get_settings()).resolved_database_url)


_engine = ready_engine


def _now() -> datetime:
    return datetime.now(UTC)


def _public(row: ModelVersion) -> ModelVersionPublic:
    return ModelVersionPublic.model_validate(row)


def _get(session: Session, version_id: str) -> ModelVersion:
    row = session.get(ModelVersion, version_id)
    if row is None:
        known = session.exec(select(ModelVersion.id).order_by(col(ModelVersion.registered_at).desc())).all()
        hint = f"; registered: {', '.join(known[:10])}" if known else "; the registry is empty"
        raise NotFoundError(f"no model version {version_id!r}{hint}")
    return row


def register_version(model_dir: Path, *, settings: Settings | None = None) -> ModelVersionPublic:
    """Record the model in ``model_dir`` (from its ``model_card.json``) as a candidate.

    Registering the same version again refreshes its metrics and location (evaluation may have added
    metrics) but refuses changed provenance: a different model must have a different version id."""
    card = read_card(model_dir)
    data = card.data
    fields = {
        "parent": data.get("parent"),
        "preset": str(data["preset"]),
        "curriculum": str(data.get("curriculum") or ""),
        "curriculum_sha256": str(data.get("curriculum_sha256") or ""),
        "data_manifest_sha256": str(data.get("data_manifest_sha256") or ""),
        "config": data["config"],
        "stages": data.get("stages") or [],
    }
    with session_scope(_engine(settings)) as session:
        row = session.get(ModelVersion, card.version)
        if row is None:
            row = ModelVersion(id=card.version, model_dir=str(Path(model_dir).resolve()),
                               metrics=data["metrics"], card_sha256=card.sha256,
                               created_at=card.created_at, registered_at=_now(),
                               **fields)
            session.add(row)
        else:
            changed = [key for key in PROVENANCE if getattr(row, key) != fields[key]]
            if changed:
                raise ConfigError(f"version {card.version} is already registered with different {changed}; "
                                  "a changed model needs a new version id")
            row.model_dir = str(Path(model_dir).resolve())
            row.metrics = data["metrics"]
            row.card_sha256 = card.sha256
        session.flush()
        return _public(row)


def list_versions(*, status: str | None = None, settings: Settings | None = None) -> list[ModelVersionPublic]:
    """Every version, newest registration first (optionally only one status)."""
    if status is not None and status not in {s.value for s in VersionStatus}:
        raise ConfigError(f"unknown status {status!r}; expected one of {[s.value for s in VersionStatus]}")
    with session_scope(_engine(settings)) as session:
        query = select(ModelVersion).order_by(col(ModelVersion.registered_at).desc(), col(ModelVersion.id))
        if status is not None:
            query = query.where(ModelVersion.status == status)
        return [_public(row) for row in session.exec(query).all()]


def get_version(version_id: str, *, settings: Settings | None = None) -> ModelVersionPublic:
    with session_scope(_engine(settings)) as session:
        return _public(_get(session, version_id))


def production_version(*, settings: Settings | None = None) -> ModelVersionPublic | None:
    with session_scope(_engine(settings)) as session:
        query = select(ModelVersion).where(ModelVersion.status == VersionStatus.PRODUCTION)
        row = session.exec(query).first()
        return _public(row) if row else None


def promote(version_id: str, tolerance: float | None = None, *,
            settings: Settings | None = None) -> ModelVersionPublic:
    """Make ``version_id`` the production version and retire the previous one.

    Refused (PromotionRefusedError, nothing changed) when the candidate is below the promotion floors
    (``settings.promotion_floors``, default ``curricula/promotion_floors.yaml``; the first promotion too),
    when CE-F1 or macro-AUROC fall more than ``tolerance`` (default: settings.promotion_tolerance) below
    production, when one finding's AUROC falls more than settings.promotion_finding_tolerance below
    production's (findings measured with >= 10 positives), or when the model directory no longer holds
    the registered model."""
    settings = settings or get_settings()
    tolerance = settings.promotion_tolerance if tolerance is None else tolerance
    check_tolerance(tolerance)
    floors = load_floors(settings.promotion_floors)
    with session_scope(_engine(settings)) as session:
        candidate = _get(session, version_id)
        if candidate.status == VersionStatus.PRODUCTION:
            return _public(candidate)
        below = floor_reasons(candidate.metrics, floors)
        if below:
            raise PromotionRefusedError(f"version {version_id} is below the promotion floors and stays a "
                                        f"candidate, never production: {'; '.join(below)}")
        try:
            card = read_card(Path(candidate.model_dir))
        except (NotFoundError, ConfigError) as exc:
            raise PromotionRefusedError(f"version {version_id} cannot be served: {exc}") from None
        if card.sha256 != candidate.card_sha256 or card.version != candidate.id:
            raise PromotionRefusedError(f"{candidate.model_dir} no longer holds the registered version "
                                        f"{version_id} (its model card changed); register it again")
        # Lock the current production row (PostgreSQL) so that a concurrent promotion waits for us.
        current = session.exec(
            select(ModelVersion).where(ModelVersion.status == VersionStatus.PRODUCTION).with_for_update()
        ).first()
        if current is not None:
            reasons = gate_reasons(candidate.metrics, current.metrics, tolerance,
                                   settings.promotion_finding_tolerance)
            if reasons:
                raise PromotionRefusedError(f"version {version_id} not promoted over {current.id}: "
                                            + "; ".join(reasons))
            current.status = VersionStatus.RETIRED.value
            current.retired_at = _now()
            session.add(current)
            session.flush()  # the one-production index must see the old row retired first
        candidate.status = VersionStatus.PRODUCTION.value
        candidate.promoted_at = _now()
        candidate.retired_at = None
        session.add(candidate)
        session.flush()
        return _public(candidate)


def _per_finding(table: Any) -> dict[str, float]:
    """metrics.json's ``findings.per_finding`` ({name: {auroc, support, ...}}) as the gate's flat keys."""
    out: dict[str, float] = {}
    for name, row in (table.items() if isinstance(table, dict) else ()):
        auc = metric_number(row.get("auroc")) if isinstance(row, dict) else None
        if auc is not None:
            out[FINDING_AUROC + name] = auc
            out[FINDING_POSITIVES + name] = metric_number(row.get("support")) or 0.0
    return out


def attach_metrics(version_id: str, metrics_file: Path, *,
                   settings: Settings | None = None) -> ModelVersionPublic:
    """Merge the numbers of a ``medvlm eval`` ``metrics.json`` into a version's metrics (for the gate).

    The file must be an evaluation of this very version; the production version's metrics are fixed,
    since they are the bar every candidate is held to."""
    import json

    try:
        data = json.loads(Path(metrics_file).read_text())
    except FileNotFoundError:
        raise NotFoundError(f"no metrics file {metrics_file}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{metrics_file} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("model_version") != version_id:
        found = data.get("model_version") if isinstance(data, dict) else None
        raise ConfigError(f"{metrics_file} evaluates version {found!r}, not {version_id!r}")
    numbers: dict[str, Any] = {k: v for k, v in data.items()
               if "." in k and isinstance(v, int | float) and not isinstance(v, bool)}
    numbers.update(_per_finding(data.get("findings.per_finding")))
    numbers["eval.split"] = data.get("split")
    numbers["eval.data_manifest_sha256"] = data.get("data_manifest_sha256")
    numbers["eval.n_studies"] = data.get("n_studies")
    with session_scope(_engine(settings)) as session:
        row = _get(session, version_id)
        if row.status == VersionStatus.PRODUCTION:
            raise ConfigError(f"version {version_id} is in production: its metrics are the bar and stay")
        row.metrics = {**row.metrics, **numbers}
        session.add(row)
        session.flush()
        return _public(row)
