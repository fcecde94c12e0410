"""Login (audited, success and failure; throttled), logout, who am I, change one's password, end one's
sessions."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import Request, Response
from sqlmodel import Session, col, select

from medvlm.service.api.deps import PersonDep, PrincipalDep, SessionDep, SettingsDep
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.auth import ldap
from medvlm.service.auth.lockout import check_account
from medvlm.service.auth.passwords import password_problem
from medvlm.service.auth.security import DUMMY_HASH, create_token, hash_password, verify_password
from medvlm.service.db.tables import User, UserSession, now_utc
from medvlm.service.errors import (
    AuthenticationError,
    InvalidInputError,
    TooManyRequestsError,
)
from medvlm.service.schemas.auth import (
    LoginRequest,
    LoginResponse,
    MeResponse,
    PasswordChange,
    SessionsEnded,
    UserPublic,
)

router = resource_router(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=LoginResponse)
def login(body: LoginRequest, request: Request, session: SessionDep, settings: SettingsDep) -> LoginResponse:
    address = request.client.host if request.client else "unknown"
    limiter = request.app.state.login_limiter
    limiter.check(address)
    try:
        check_account(session, body.username)
    except TooManyRequestsError:
        audit(session, actor=f"user:{body.username}", action="login.locked", resource_type="user",
              resource_id=body.username, detail={"address": address})
        session.commit()  # recorded, though refused (and it does not extend the lock)
        raise
    user = session.exec(select(User).where(User.username == body.username)).first()
    if ldap.applies(settings, user):  # directory sign-on: no local account of that name
        user = ldap.sign_on(session, settings, body.username, body.password)
        ok = user is not None
    else:
        ok = verify_password(user.password_hash if user else DUMMY_HASH, body.password)
    if user is None or not ok or not user.active:
        limiter.failed(address)
        audit(
            session,
            actor=f"user:{body.username}",
            action="login.failure",
            resource_type="user",
            resource_id=body.username,
            detail={"reason": "disabled" if user and ok else "bad credentials"},
        )
        session.commit()  # the failed attempt is recorded even though the request fails
        raise AuthenticationError("wrong username or password")
    row = UserSession(user_id=user.id)
    session.add(row)
    session.flush()
    audit(
        session,
        actor=f"user:{user.username}",
        action="login.success",
        resource_type="user",
        resource_id=user.id,
        detail={"session_id": row.id},
    )
    token = create_token(settings.secret_key, user_id=user.id, session_id=row.id)
    return LoginResponse(
        access_token=token,
        expires_in=settings.session_idle_minutes * 60,
        user=UserPublic(username=user.username, role=user.role),  # type: ignore[arg-type]
    )  # type: ignore[arg-type]


@router.post("/logout", status_code=204)
def logout(principal: PrincipalDep, session: SessionDep) -> Response:
    if principal.session_id:
        row = session.get(UserSession, principal.session_id)
        if row is not None and row.ended_at is None:
            row.ended_at = now_utc()
            session.add(row)
    return Response(status_code=204)


@router.get("/me", response_model=MeResponse)
def me(principal: PrincipalDep) -> MeResponse:
    return MeResponse(
        username=principal.name,
        role=principal.role,  # type: ignore[arg-type]
        auth="session" if principal.session_id else "api_key",
    )


def end_sessions(session: Session, user_id: str, *, keep: str | None = None) -> int:
    """End every open login session of ``user_id`` (but ``keep``); returns how many. Shared with the
    admin's disable."""
    stmt = sa.update(UserSession).where(col(UserSession.user_id) == user_id,
                                        col(UserSession.ended_at).is_(None))
    if keep is not None:
        stmt = stmt.where(col(UserSession.id) != keep)
    return int(session.execute(stmt.values(ended_at=now_utc())).rowcount or 0)  # type: ignore[attr-defined]


@router.post("/password", response_model=SessionsEnded)
def change_password(body: PasswordChange, principal: PersonDep, session: SessionDep) -> SessionsEnded:
    """Change one's own password (the current one is asked again); every other session of the user ends."""
    user = session.get(User, principal.user_id)
    if user is None or not verify_password(user.password_hash, body.current_password):
        raise AuthenticationError("current password is wrong")
    problem = password_problem(body.new_password, username=user.username)
    if problem is None and body.new_password == body.current_password:
        problem = "the new password must differ from the current one"
    if problem:
        raise InvalidInputError(problem)
    user.password_hash = hash_password(body.new_password)
    session.add(user)
    ended = end_sessions(session, user.id, keep=principal.session_id)
    audit(session, actor=principal.actor, action="user.password_change", resource_type="user",
          resource_id=user.id, detail={"sessions_ended": ended})
    return SessionsEnded(ended=ended)


@router.post("/sessions/end-all", response_model=SessionsEnded)
def end_all_sessions(principal: PersonDep, session: SessionDep) -> SessionsEnded:
    """Log out everywhere: every session of the caller ends, this one included."""
    assert principal.user_id is not None  # PersonDep
    ended = end_sessions(session, principal.user_id)
    audit(session, actor=principal.actor, action="user.sessions_end", resource_type="user",
          resource_id=principal.user_id or "", detail={"sessions_ended": ended})
    return SessionsEnded(ended=ended)
