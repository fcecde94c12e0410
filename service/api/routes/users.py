"""User accounts (admin only): create, disable (which ends the user's sessions)."""

from __future__ import annotations

from sqlmodel import select

from medvlm.errors import NotFoundError
from medvlm.service.api.deps import AdminDep, SessionDep
from medvlm.service.api.ids import UserId
from medvlm.service.api.routes.auth import end_sessions
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.auth.security import hash_password
from medvlm.service.db.tables import User
from medvlm.service.errors import ConflictError, InvalidInputError
from medvlm.service.schemas.auth import UserCreate, UserCreated, UserStatus

router = resource_router(prefix="/users", tags=["users"])


def create_user(session, username: str, password: str, role: str) -> User:  # type: ignore[no-untyped-def]
    """Shared with ``medvlm users add``."""
    from medvlm.service.auth.passwords import password_problem

    problem = password_problem(password, username=username)
    if problem:
        raise InvalidInputError(problem)
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


@router.post("/{user_id}/disable", response_model=UserStatus)
def disable_user(user_id: UserId, session: SessionDep, admin: AdminDep) -> UserStatus:
    """The user can no longer log in, and every session it has ends now."""
    user = session.get(User, str(user_id))
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    if user.id == admin.user_id:
        raise ConflictError("an admin cannot disable their own account (another admin can)")
    user.active = False
    session.add(user)
    ended = end_sessions(session, user.id)
    audit(session, actor=admin.actor, action="user.disable", resource_type="user", resource_id=user.id,
          detail={"username": user.username, "sessions_ended": ended})
    return UserStatus(id=user.id, username=user.username, active=False, sessions_ended=ended)
