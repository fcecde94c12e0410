"""A minimal OpenID Connect provider FOR TESTS (not a product): discovery, JWKS, authorize, token.

    python -m tests.support.oidc_provider --port 9400 --config provider.json

Listens on 127.0.0.1 only and is stopped by PID (``running_provider``). What it does, by the standards:
- discovery (OIDC Discovery 1.0) with the issuer it was given; a JWKS holding its RSA key (RS256);
- ``/authorize``: authorization code flow only (``response_type=code``), a registered client and exact
  redirect URI, ``openid`` in the scope, PKCE S256 required (RFC 7636). The user "logs in" by
  ``login_hint`` (a test provider has no login form); an unknown user gets ``error=access_denied``;
- ``/token``: a single-use code, the same client and redirect URI, the PKCE verifier checked, the client
  secret checked (HTTP Basic) when the client has one; answers an ID token signed with PyJWT (RS256,
  ``kid`` in the header) holding iss, aud, sub, iat, exp, nonce and the user's claims.
``POST /test/mode`` (JSON ``{"mode": ...}``) makes the next ID tokens misbehave, to test the relying
party's checks: ``wrong_issuer``, ``wrong_audience``, ``expired``, ``foreign_key`` (signed with another
key under the same kid), ``no_nonce``, ``wrong_nonce``, ``alg_none``; ``normal`` restores it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.processes import free_port, stop_process

KID = "test-key-1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Provider:
    def __init__(self, issuer: str, clients: dict[str, dict], users: dict[str, dict]) -> None:
        self.issuer, self.clients, self.users = issuer, clients, users
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.codes: dict[str, dict] = {}
        self.mode = "normal"
        self.lock = threading.Lock()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email", "groups"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "grant_types_supported": ["authorization_code"],
        }

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        """(status, headers): a redirect with a code or an error, or 400 when it cannot redirect."""
        client = self.clients.get(query.get("client_id", ""))
        redirect = query.get("redirect_uri", "")
        if client is None or redirect not in client["redirect_uris"]:
            return 400, {}

        def back(**params: str) -> tuple[int, dict[str, str]]:
            return 302, {"Location": f"{redirect}?{urlencode({**params, 'state': query.get('state', '')})}"}

        if query.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if "openid" not in query.get("scope", "").split():
            return back(error="invalid_scope")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return back(error="invalid_request", error_description="PKCE S256 is required")
        user = query.get("login_hint", "")
        if user not in self.users:
            return back(error="access_denied", error_description="unknown user")
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = {**query, "user": user, "issued": time.time()}
        return back(code=code)

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            grant = self.codes.pop(form.get("code", ""), None)  # single use
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        if grant is None or time.time() - grant["issued"] > 60:
            return 400, {"error": "invalid_grant", "error_description": "unknown, used or expired code"}
        client_id = form.get("client_id", "")
        if authorization.startswith("Basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            if secret != self.clients.get(client_id, {}).get("secret"):
                return 401, {"error": "invalid_client"}
        elif self.clients.get(client_id, {}).get("secret"):
            return 401, {"error": "invalid_client", "error_description": "client secret required"}
        if client_id != grant["client_id"] or form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "client or redirect_uri differs"}
        verifier = form.get("code_verifier", "")
        if _b64(hashlib.sha256(verifier.encode()).digest()) != grant["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        return 200, {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "expires_in": 300,
                     "id_token": self.id_token(grant)}

    def id_token(self, grant: dict[str, str]) -> str:
        now, mode = int(time.time()), self.mode
        claims: dict[str, Any] = {
            **self.users[grant["user"]],
            "iss": self.issuer if mode != "wrong_issuer" else "https://impostor.example",
            "aud": grant["client_id"] if mode != "wrong_audience" else "another-client",
            "sub": f"sub-{grant['user']}",
            "iat": now if mode != "expired" else now - 7200,
            "exp": now + 300 if mode != "expired" else now - 3600,
            "auth_time": now,
        }
        if mode != "no_nonce" and grant.get("nonce"):
            claims["nonce"] = grant["nonce"] if mode != "wrong_nonce" else "not-the-nonce"
        if mode == "alg_none":
            return jwt.encode(claims, None, algorithm="none", headers={"kid": KID})
        key = self.other_key if mode == "foreign_key" else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict | None = None, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._send(200, provider.discovery())
            elif url.path == "/jwks":
                self._send(200, provider.jwks())
            elif url.path == "/authorize":
                status, headers = provider.authorize(query)
                self._send(status, None if status == 302 else {"error": "invalid_request"}, headers)
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                self._send(*provider.token(form, self.headers.get("Authorization", "")))
            elif self.path == "/test/mode":
                provider.mode = json.loads(body)["mode"]
                self._send(200, {"mode": provider.mode})
            else:
                self._send(404, {"error": "not_found"})

    return Handler


@dataclass
class RunningProvider:
    issuer: str
    pid: int

    def set_mode(self, mode: str) -> None:
        httpx.post(f"{self.issuer}/test/mode", json={"mode": mode}, timeout=5).raise_for_status()

    def authorize(self, url: str, user: str) -> str:
        """Follow the service's redirect as a browser whose user logs in as ``user``: the callback URL."""
        answer = httpx.get(f"{url}&{urlencode({'login_hint': user})}", timeout=5)
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]


@contextmanager
def running_provider(
    clients: dict[str, dict], users: dict[str, dict], workdir: Path
) -> Iterator[RunningProvider]:
    """The provider in a subprocess on a free loopback port; stopped by its PID on exit."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    config = workdir / "oidc-provider.json"
    config.write_text(json.dumps({"issuer": issuer, "clients": clients, "users": users}))
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.oidc_provider", "--port", str(port),
                             "--config", str(config)], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                output = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"the test OIDC provider did not start: {output}")
            time.sleep(0.1)
        yield RunningProvider(issuer, proc.pid)
    finally:
        stop_process(proc, timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args()
    config = json.loads(args.config.read_text())
    provider = Provider(config["issuer"], config["clients"], config["users"])
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _handler(provider))  # loopback only
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
