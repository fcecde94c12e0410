"""The identity provider as an OpenID Connect relying party sees it: discovery, keys, code exchange.

Everything is read over HTTPS (the CA in ``oidc_ca_file`` or the system's), with a timeout; an IdP that
does not answer, or answers nonsense, is ``DirectoryUnavailableError`` (503), never a bare 500. The
discovery document is cached for ten minutes; the key set is read again when a token names a key id it
does not hold (the IdP rotated its keys).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from medvlm.service.errors import DirectoryUnavailableError
from medvlm.settings import Settings

DISCOVERY_TTL_S = 600


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


_cache: dict[str, tuple[float, Any]] = {}
_lock = threading.Lock()


def _get_json(settings: Settings, url: str, **kwargs: Any) -> dict[str, Any]:
    method = "POST" if "data" in kwargs else "GET"
    try:
        answer = httpx.request(method, url, timeout=settings.oidc_timeout_seconds,
                               verify=settings.oidc_ca_file or True, **kwargs)
        body = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise DirectoryUnavailableError(f"the identity provider at {url} did not answer: {exc}") from exc
    if not isinstance(body, dict):
        raise DirectoryUnavailableError(f"the identity provider at {url} answered no JSON object")
    if answer.status_code >= 400:
        body.setdefault("error", f"HTTP {answer.status_code}")
    return body


def endpoints(settings: Settings) -> Endpoints:
    issuer = settings.oidc_issuer.rstrip("/")
    key = f"discovery:{issuer}"
    with _lock:
        cached = _cache.get(key)
    if cached and time.monotonic() - cached[0] < DISCOVERY_TTL_S:
        return cached[1]
    document = _get_json(settings, f"{issuer}/.well-known/openid-configuration")
    try:
        found = Endpoints(*(str(document[k]) for k in
                            ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")))
    except KeyError as exc:
        raise DirectoryUnavailableError(f"the identity provider's discovery document lacks {exc}") from None
    if found.issuer.rstrip("/") != issuer:  # OIDC Discovery 4.3: it must be the issuer we were given
        raise DirectoryUnavailableError(
            f"the discovery document names issuer {found.issuer!r}, not the configured {issuer!r}"
        )
    with _lock:
        _cache[key] = (time.monotonic(), found)
    return found


def signing_key(settings: Settings, kid: str | None) -> jwt.PyJWK:
    """The IdP's public key ``kid`` from its JWKS (read again once if unknown: key rotation)."""
    uri = endpoints(settings).jwks_uri
    for refresh in (False, True):
        with _lock:
            cached = _cache.get(f"jwks:{uri}")
        if refresh or cached is None:
            try:
                keys = jwt.PyJWKSet.from_dict(_get_json(settings, uri))
            except jwt.PyJWKSetError as exc:
                raise DirectoryUnavailableError(f"the identity provider's keys are unusable: {exc}") from None
            with _lock:
                _cache[f"jwks:{uri}"] = (time.monotonic(), keys)
        else:
            keys = cached[1]
        matches = [k for k in keys.keys if kid is None or k.key_id == kid]
        if len(matches) == 1:
            return matches[0]
    raise jwt.InvalidSignatureError(f"the identity provider has no key {kid!r} in its key set")


def exchange_code(settings: Settings, code: str, verifier: str) -> dict[str, Any]:
    """The token endpoint's answer for an authorization code (RFC 6749 4.1.3, RFC 7636 4.5)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": settings.oidc_redirect_uri,
        "client_id": settings.oidc_client_id,
        "code_verifier": verifier,
    }
    auth = (settings.oidc_client_id, settings.oidc_client_secret) if settings.oidc_client_secret else None
    return _get_json(settings, endpoints(settings).token_endpoint, data=form, auth=auth)


def forget() -> None:
    """Drop cached discovery documents and key sets (tests; a changed configuration)."""
    with _lock:
        _cache.clear()
