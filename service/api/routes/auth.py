"""Login (audited, success and failure), logout, and who am I."""

from __future__ import annotations

from fastapi import Response
from sqlmodel import select

from medvlm.service.api.deps import PrincipalDep, SessionDep, SettingsDep
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.auth import ldap
from medvlm.service.auth.security import DUMMY_HASH, create_token, verify_password
from medvlm.service.db.tables import User, UserSession, now_utc
from medvlm.service.errors import AuthenticationError
from medvlm.service.schemas.auth import LoginRequest, LoginResponse, MeResponse, UserPublic

router = resource_router(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=LoginResponse)
def login(body: LoginRequest, session: SessionDep, settings: SettingsDep) -> LoginResponse:
    user = session.exec(select(User).where(User.username == body.username)).first()
    if ldap.applies(settings, user):  # directory sign-on: no local account of that name
        user = ldap.sign_on(session, settings, body.username, body.password)
        ok = user is not None
    else:
        ok = verify_password(user.password_hash if user else DUMMY_HASH, body.password)
    if user is None or not ok or not user.active:
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
