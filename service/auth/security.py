"""Password hashing (argon2), signed session tokens (JWT, HS256) and API key generation.

A token names its session; the session row decides idle expiry and logout, so a token cannot outlive
its session even before ``exp``. API keys are random 256-bit secrets stored only as SHA-256 digests
(a slow hash adds nothing for secrets of that entropy and would cost every integration request).
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from medvlm.service.errors import AuthenticationError

_hasher = PasswordHasher()
ALGORITHM = "HS256"
API_KEY_PREFIX = "mvk_"
# A token's absolute lifetime; the session's idle expiry usually ends it much earlier.
TOKEN_MAX_AGE = timedelta(hours=12)
_MAX_AGE_S = TOKEN_MAX_AGE.total_seconds()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verified against when the username does not exist, so both failures take the same time.
DUMMY_HASH = hash_password("not-a-real-password")


def create_token(secret: str, *, user_id: str, session_id: str, now: datetime | None = None) -> str:
    issued = now or datetime.now(UTC)
    claims = {"sub": user_id, "sid": session_id, "iat": issued, "exp": issued + TOKEN_MAX_AGE}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(secret: str, token: str) -> dict:
    """The token's claims, if its signature is ours and it has not expired; ``AuthenticationError`` if not."""
    claims = _signed_claims(secret, token)
    if claims["exp"] <= _clock():  # checked on every use: the verified claims are cached
        raise AuthenticationError("token expired: log in again")
    return dict(claims)


_clock = time.time  # PyJWT's own clock for ``exp``; a seam for tests


# A client sends the same token on every request, and verifying it (PyJWT: parse, base64, HMAC, JSON) was
# about 7% of a worklist request's CPU. The result depends only on secret and token, so it is cached;
# failures are not (an exception is never cached), and expiry is checked on each use above.
@functools.lru_cache(maxsize=4096)
def _signed_claims(secret: str, token: str) -> MappingProxyType[str, Any]:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM],
                            options={"require": ["sub", "sid", "exp", "iat"]})
    except jwt.ExpiredSignatureError:
        raise AuthenticationError("token expired: log in again") from None
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError(f"invalid token ({exc})") from None
    if not isinstance(claims["exp"], int | float):  # PyJWT accepts only numbers; the check above needs one
        raise AuthenticationError("invalid token (exp is not a number)")
    # We never issue a longer-lived token: one that claims to be is forged (seen: a 10-year expiry).
    if not isinstance(claims["iat"], int | float) or claims["exp"] - claims["iat"] > _MAX_AGE_S + 60:
        raise AuthenticationError("invalid token (lifetime longer than any this service issues)")
    return MappingProxyType(claims)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
