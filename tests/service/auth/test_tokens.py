"""Session tokens: verified claims are cached, but expiry, tampering and a wrong key are caught every time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medvlm.service.auth import security
from medvlm.service.auth.security import TOKEN_MAX_AGE, create_token, decode_token
from medvlm.service.errors import AuthenticationError

SECRET = "s" * 48


def test_a_cached_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    issued = datetime.now(UTC)
    token = create_token(SECRET, user_id="u1", session_id="s1", now=issued)
    assert decode_token(SECRET, token)["sid"] == "s1"
    assert security._signed_claims.cache_info().currsize >= 1
    expiry = (issued + TOKEN_MAX_AGE).timestamp()
    monkeypatch.setattr(security, "_clock", lambda: expiry + 1)
    with pytest.raises(AuthenticationError, match="expired"):
        decode_token(SECRET, token)


def test_cached_claims_cannot_be_changed_through_a_returned_copy() -> None:
    token = create_token(SECRET, user_id="u2", session_id="s2")
    decode_token(SECRET, token)["sub"] = "someone-else"
    assert decode_token(SECRET, token)["sub"] == "u2"


def test_tampered_and_foreign_tokens_are_refused_even_after_the_real_one_was_cached() -> None:
    token = create_token(SECRET, user_id="u3", session_id="s3")
    decode_token(SECRET, token)
    header, payload, signature = token.split(".")
    tampered = ".".join([header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")])
    for bad, secret in ((tampered, SECRET), (token, "t" * 48)):
        with pytest.raises(AuthenticationError, match="invalid token"):
            decode_token(secret, bad)
