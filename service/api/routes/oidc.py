"""OpenID Connect sign-on (``service.auth.oidc``): ``/auth/oidc/login`` sends the browser to the
identity provider, ``/auth/oidc/callback`` finishes the sign-on and answers as ``POST /auth/login`` does.
404 while OIDC is not configured. Every success and refusal is audited with its reason; refusals count
towards the address's login throttle like wrong passwords.

A browser (``Accept: text/html``) is sent on to the login page (303) instead, with the session or the
refusal's reason in the URL fragment: a fragment never reaches a server's log or a ``Referer`` header;
the page (``ui/static/js/sso.js``) stores the session as a password login does and clears the fragment."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from medvlm.errors import MedVLMError, NotFoundError
from medvlm.service.api.deps import SettingsDep
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.auth import oidc
from medvlm.service.auth.security import create_token
from medvlm.service.db.tables import UserSession
from medvlm.service.errors import AuthenticationError, PermissionDeniedError
from medvlm.service.schemas.auth import LoginResponse, UserPublic
from medvlm.settings import Settings

router = resource_router(prefix="/auth/oidc", tags=["auth"])
COOKIE_PATH = "/api/v1/auth/oidc"
Param = Annotated[str, Query(max_length=4096)]


def _enabled(settings: SettingsDep) -> None:
    if not oidc.enabled(settings):
        raise NotFoundError("OpenID Connect sign-on is not configured (MEDVLM_OIDC_ISSUER)")


@router.get("/login", response_class=RedirectResponse, status_code=302)
def oidc_login(request: Request, settings: SettingsDep) -> Response:
    """Start a sign-on: a redirect to the identity provider (authorization code + PKCE S256)."""
    _enabled(settings)
    url, cookie = oidc.start(settings)
    answer = RedirectResponse(url, status_code=302)
    answer.set_cookie(oidc.COOKIE, cookie, max_age=oidc.PENDING_MINUTES * 60, path=COOKIE_PATH,
                      httponly=True, samesite="lax", secure=request.url.scheme == "https")
    return answer


@router.get("/callback", response_model=LoginResponse)
def oidc_callback(
    request: Request,
    settings: SettingsDep,
    response: Response,
    code: Param = "",
    state: Param = "",
    error: Param = "",
    error_description: Param = "",
) -> Response | LoginResponse:
    """Finish a sign-on: the code is redeemed, the ID token checked; a session token as from login.

    A GET (the browser comes back from the IdP by a redirect) that writes (the account mirror, the login
    session, the audit row): so it takes a read-write session of its own, not a GET route's read session.
    """
    _enabled(settings)
    page = "text/html" in request.headers.get("accept", "")
    try:
        with Session(request.app.state.engine) as session:
            answer = _finish(request, session, settings, code, state, error, error_description)
            session.commit()
    except MedVLMError as exc:
        if not page:
            raise
        return _to_login_page({"sso_error": str(exc)}, forget=False)  # a forged callback keeps the cookie
    if not page:
        response.delete_cookie(oidc.COOKIE, path=COOKIE_PATH)  # one sign-on, one callback
        return answer
    return _to_login_page({"access_token": answer.access_token, "expires_in": str(answer.expires_in),
                           "username": answer.user.username, "role": answer.user.role}, forget=True)


def _to_login_page(fields: dict[str, str], *, forget: bool) -> Response:
    """303 to the login page with ``fields`` in the fragment (``forget``: the pending-login cookie goes)."""
    answer = RedirectResponse(f"/#{urlencode(fields)}", status_code=303)
    if forget:
        answer.delete_cookie(oidc.COOKIE, path=COOKIE_PATH)  # one sign-on, one callback
    return answer


def _finish(request: Request, session: Session, settings: Settings, code: str, state: str, error: str,
            error_description: str) -> LoginResponse:
    address = request.client.host if request.client else "unknown"
    limiter = request.app.state.login_limiter
    limiter.check(address)
    found = None
    try:
        if error:
            refused = error_description or error
            raise AuthenticationError(f"the identity provider refused the sign-on: {refused}")
        if not code or not state:
            raise AuthenticationError("the callback lacks the code or the state parameter")
        found = oidc.finish(settings, request.cookies.get(oidc.COOKIE), code, state)
        user = oidc.mirror(session, found)
    except (AuthenticationError, PermissionDeniedError) as exc:
        limiter.failed(address)
        name = found.username if found else "unknown"
        detail: dict[str, Any] = {"reason": str(exc), "via": "oidc", "address": address}
        if found is not None:
            detail["groups"] = list(found.groups)
        audit(session, actor=f"user:{name}", action="login.failure", resource_type="user",
              resource_id=name, detail=detail)
        session.commit()  # recorded even though the request fails
        raise
    row = UserSession(user_id=user.id)
    session.add(row)
    session.flush()
    audit(session, actor=f"user:{user.username}", action="login.success", resource_type="user",
          resource_id=user.id, detail={"session_id": row.id, "via": "oidc", "subject": found.subject})
    token = create_token(settings.secret_key, user_id=user.id, session_id=row.id)
    return LoginResponse(
        access_token=token,
        expires_in=settings.session_idle_minutes * 60,
        user=UserPublic(username=user.username, role=user.role),  # type: ignore[arg-type]
    )  # type: ignore[arg-type]
