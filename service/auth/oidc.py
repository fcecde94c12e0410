"""OpenID Connect sign-on: authorization code flow with PKCE (RFC 7636), ID token checked with PyJWT.

1. ``start``: a random ``state``, ``nonce`` and PKCE verifier; the browser is sent to the IdP with the
   S256 challenge. The three travel in a short-lived cookie signed with the service secret (HS256), so
   any process of the service can finish the login.
2. ``finish``: the ``state`` must be the cookie's; the code is exchanged (with the verifier) at the token
   endpoint; the ID token must be signed by a key of the IdP's JWKS (asymmetric algorithms only), name the
   configured issuer and our client id as audience (``azp`` too when there are several), be unexpired,
   and carry the cookie's nonce, used once (a replayed token or callback is refused).
3. The groups claim goes through the role mapping LDAP uses (``service.auth.group_roles``); the account is
   mirrored as a ``User`` row (as for LDAP) so sessions and the audit trail work as for local accounts.
Every refusal is an ``AuthenticationError`` (401) naming the reason, and is audited by the route.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
from sqlmodel import Session, select

from medvlm.errors import ConfigError
from medvlm.service.auth import oidc_provider
from medvlm.service.auth.group_roles import check_mapping, role_for_groups
from medvlm.service.db.tables import User
from medvlm.service.errors import AuthenticationError, PermissionDeniedError
from medvlm.settings import Settings

OIDC_PASSWORD_HASH = "!oidc"  # not an argon2 hash: no password verifies against it
PENDING_MINUTES = 10
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
COOKIE = "medvlm_oidc"


def enabled(settings: Settings) -> bool:
    return bool(settings.oidc_issuer)


def group_roles(settings: Settings) -> dict[str, str]:
    return settings.oidc_group_roles or settings.ldap_group_roles


def check_oidc_settings(settings: Settings) -> None:
    if not enabled(settings):
        return
    missing = [n for n in ("oidc_client_id", "oidc_redirect_uri") if not getattr(settings, n)]
    if missing:
        names = ", ".join(f"MEDVLM_{m.upper()}" for m in missing)
        raise ConfigError(f"MEDVLM_OIDC_ISSUER is set but {names} is empty")
    if not group_roles(settings):
        raise ConfigError("MEDVLM_OIDC_ISSUER is set but neither MEDVLM_OIDC_GROUP_ROLES nor "
                          "MEDVLM_LDAP_GROUP_ROLES maps a group to a role: nobody could sign on")
    check_mapping(group_roles(settings), "MEDVLM_OIDC_GROUP_ROLES")
    loopback = settings.oidc_issuer.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]"))
    plain_ok = loopback and settings.environment != "production"  # a test provider on this machine
    if not settings.oidc_issuer.startswith("https://") and not plain_ok:
        raise ConfigError(f"MEDVLM_OIDC_ISSUER {settings.oidc_issuer!r} must be an https:// URL")
    if "openid" not in settings.oidc_scopes.split():
        raise ConfigError(f"MEDVLM_OIDC_SCOPES {settings.oidc_scopes!r} lacks 'openid'")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def start(settings: Settings) -> tuple[str, str]:
    """The IdP authorization URL to send the browser to, and the signed pending-login cookie value."""
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    challenge = _b64(hashlib.sha256(verifier.encode("ascii")).digest())
    query = urlencode({
        "response_type": "code",
        "client_id": settings.oidc_client_id,
        "redirect_uri": settings.oidc_redirect_uri,
        "scope": settings.oidc_scopes,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
    expires = datetime.now(UTC) + timedelta(minutes=PENDING_MINUTES)
    pending = {"state": state, "nonce": nonce, "verifier": verifier, "exp": expires, "aud": COOKIE}
    cookie = jwt.encode(pending, settings.secret_key, algorithm="HS256")
    authorize = oidc_provider.endpoints(settings).authorization_endpoint
    return f"{authorize}{'&' if '?' in authorize else '?'}{query}", cookie


class _UsedNonces:
    """Nonces already accepted (until their pending login would have expired): a token is used once."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, nonce: str) -> bool:
        now = time.monotonic()
        with self._lock:
            self._seen = {n: t for n, t in self._seen.items() if t > now}
            if nonce in self._seen:
                return False
            self._seen[nonce] = now + PENDING_MINUTES * 60 + 60
            return True


used_nonces = _UsedNonces()


def _pending(settings: Settings, cookie: str | None, state: str) -> dict[str, Any]:
    if not cookie:
        raise AuthenticationError("no sign-on in progress from this browser (cookie missing): start again")
    try:
        pending = jwt.decode(cookie, settings.secret_key, algorithms=["HS256"], audience=COOKIE)
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("the sign-on took too long: start again") from None
    except jwt.InvalidTokenError:
        raise AuthenticationError("the sign-on cookie is not ours: start again") from None
    if not secrets.compare_digest(str(pending.get("state", "")), state):
        raise AuthenticationError("the state returned by the identity provider is not this sign-on's")
    return pending


_REASONS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "the ID token has expired"),
    (jwt.InvalidIssuerError, "the ID token was issued by another issuer"),
    (jwt.InvalidAudienceError, "the ID token is for another audience"),
    (jwt.InvalidSignatureError, "the ID token's signature does not verify against the provider's keys"),
    (jwt.ImmatureSignatureError, "the ID token is not valid yet"),
    (jwt.MissingRequiredClaimError, "the ID token lacks a required claim"),
    (jwt.InvalidAlgorithmError, "the ID token is signed with an algorithm we do not accept"),
]


def validate_id_token(settings: Settings, id_token: str, nonce: str) -> dict[str, Any]:
    """The ID token's claims (OIDC Core 3.1.3.7), or ``AuthenticationError`` naming what is wrong."""
    try:
        header = jwt.get_unverified_header(id_token)
        if header.get("alg") not in ALGORITHMS:  # never "none" or a shared-secret HS* for an IdP token
            raise jwt.InvalidAlgorithmError(str(header.get("alg")))
        key = oidc_provider.signing_key(settings, header.get("kid"))
        claims = jwt.decode(
            id_token,
            key=key.key,
            algorithms=[header["alg"]],
            audience=settings.oidc_client_id,
            issuer=settings.oidc_issuer,
            leeway=settings.oidc_leeway_seconds,
            options={"require": ["iss", "aud", "exp", "iat", "sub", "nonce"]},
        )
    except jwt.InvalidTokenError as exc:
        reason = next((text for kind, text in _REASONS if isinstance(exc, kind)), "the ID token is malformed")
        raise AuthenticationError(f"{reason} ({exc})") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != settings.oidc_client_id:
        raise AuthenticationError("the ID token has several audiences and its azp is not this client")
    if not secrets.compare_digest(str(claims["nonce"]), nonce):
        raise AuthenticationError("the ID token's nonce is not this sign-on's (a replayed token?)")
    if not used_nonces.claim(nonce):
        raise AuthenticationError("this sign-on's nonce was already used (a replayed token)")
    return claims


@dataclass(frozen=True)
class OidcUser:
    username: str
    subject: str
    groups: tuple[str, ...]
    role: str | None


def finish(settings: Settings, cookie: str | None, code: str, state: str) -> OidcUser:
    """Check the callback against the pending sign-on, redeem the code, validate the ID token."""
    pending = _pending(settings, cookie, state)
    answer = oidc_provider.exchange_code(settings, code, pending["verifier"])
    if "error" in answer or not isinstance(answer.get("id_token"), str):
        error = answer.get("error_description") or answer.get("error") or "no id_token in the answer"
        raise AuthenticationError(f"the identity provider refused the code: {error}")
    claims = validate_id_token(settings, answer["id_token"], pending["nonce"])
    username = str(claims.get(settings.oidc_username_claim) or "")
    if not username:
        claim = settings.oidc_username_claim
        raise AuthenticationError(f"the ID token has no {claim!r} claim to name the user")
    raw = claims.get(settings.oidc_groups_claim) or []
    groups = tuple(str(g) for g in (raw if isinstance(raw, list) else [raw]))
    return OidcUser(username, str(claims["sub"]), groups, role_for_groups(group_roles(settings), groups))


def mirror(session: Session, found: OidcUser) -> User:
    """The ``User`` row of a signed-on OIDC account (made or refreshed); a local or LDAP account of the
    same name is never taken over. ``PermissionDeniedError`` (403) when no group maps to a role."""
    user = session.exec(select(User).where(User.username == found.username)).first()
    if user is not None and user.password_hash != OIDC_PASSWORD_HASH:
        raise PermissionDeniedError(
            f"{found.username} is a local or directory account: it cannot be signed on through OIDC"
        )
    if found.role is None:
        if user is not None:
            user.active = False  # sessions it still holds end with it
            session.add(user)
        raise PermissionDeniedError(
            f"{found.username} signed on at the identity provider but is in no group that maps to a "
            "MedVLM role (MEDVLM_OIDC_GROUP_ROLES)"
        )
    if user is None:
        user = User(username=found.username, password_hash=OIDC_PASSWORD_HASH, role=found.role)
    user.role, user.active = found.role, True
    session.add(user)
    session.flush()
    return user
