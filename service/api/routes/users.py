"""User accounts (admin only)."""

from __future__ import annotations

from sqlmodel import select

from medvlm.service.api.deps import AdminDep, SessionDep
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.auth.security import hash_password
from medvlm.service.db.tables import User
from medvlm.service.errors import ConflictError
from medvlm.service.schemas.auth import UserCreate, UserCreated

router = resource_router(prefix="/users", tags=["users"])


def create_user(session, username: str, password: str, role: str) -> User:  # type: ignore[no-untyped-def]
    """Shared with ``medvlm users add``."""
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise ConflictError(f"user '{username}' already exists")
    user = User(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


@router.post("", response_model=UserCreated, status_code=201)
def add_user(body: UserCreate, session: SessionDep, admin: AdminDep) -> UserCreated:
    user = create_user(session, body.username, body.password, body.role)
    audit(
        session,
        actor=admin.actor,
        action="user.create",
        resource_type="user",
        resource_id=user.id,
        detail={"username": user.username, "role": user.role},
    )
    return UserCreated(
        id=user.id,
        username=user.username,
        role=user.role,  # type: ignore[arg-type]
        created_at=user.created_at,
    )
