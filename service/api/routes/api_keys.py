"""API keys for integrations (admin only); the key is shown once, only its digest is kept; revoking one
refuses it from the next request on."""

from __future__ import annotations

from medvlm.errors import NotFoundError
from medvlm.service.api.deps import AdminDep, SessionDep
from medvlm.service.api.ids import ApiKeyId
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.auth.security import api_key_digest, new_api_key
from medvlm.service.db.tables import ApiKey, now_utc, utc
from medvlm.service.errors import PermissionDeniedError
from medvlm.service.schemas.auth import ApiKeyCreate, ApiKeyCreated, ApiKeyRevoked

router = resource_router(prefix="/api-keys", tags=["api-keys"])


@router.post("", response_model=ApiKeyCreated, status_code=201)
def create_api_key(body: ApiKeyCreate, session: SessionDep, admin: AdminDep) -> ApiKeyCreated:
    if admin.user_id is None:
        raise PermissionDeniedError("API keys are created by a logged-in admin, not by another API key")
    key = new_api_key()
    row = ApiKey(name=body.name, key_hash=api_key_digest(key), role=body.role, created_by=admin.user_id)
    session.add(row)
    session.flush()
    audit(
        session,
        actor=admin.actor,
        action="api_key.create",
        resource_type="api_key",
        resource_id=row.id,
        detail={"name": row.name, "role": row.role},
    )
    return ApiKeyCreated(
        id=row.id,
        name=row.name,
        role=row.role,  # type: ignore[arg-type]
        key=key,  # type: ignore[arg-type]
        created_at=row.created_at,
    )


@router.delete("/{key_id}", response_model=ApiKeyRevoked)
def revoke_api_key(key_id: ApiKeyId, session: SessionDep, admin: AdminDep) -> ApiKeyRevoked:
    row = session.get(ApiKey, str(key_id))
    if row is None:
        raise NotFoundError(f"API key {key_id} not found")
    if row.revoked_at is None:  # revoking twice keeps the first time
        row.revoked_at = now_utc()
        session.add(row)
        audit(session, actor=admin.actor, action="api_key.revoke", resource_type="api_key",
              resource_id=row.id, detail={"name": row.name})
    return ApiKeyRevoked(id=row.id, name=row.name, revoked_at=utc(row.revoked_at))
