"""Browser-facing headers on every response (issue #19 item 12).

- a Content-Security-Policy that allows only this origin's scripts, styles and connections (the UI has no
  inline script), images also from ``data:`` / ``blob:`` (the favicon, thumbnails), and no framing
  by any other page (``frame-ancestors 'none'``, and ``X-Frame-Options: DENY`` for older browsers);
- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` (a study UID in a URL must not
  leave in a Referer);
- ``Cache-Control: no-store`` on API answers that did not choose a policy themselves: patient JSON must
  not stay in a shared browser's cache (rendered frames keep their short private cache).

Plain ASGI rather than ``BaseHTTPMiddleware``: it only edits the start message, costing no extra task or
body copy per request.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# style-src-attr: the review page's markup sets a few style="..." attributes (widths, colours); those cannot
# run code, while <style> elements and every script stay limited to this origin's files.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
       "img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
_ALWAYS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
_NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/") or scope["path"] in ("/ready", "/metrics")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in _ALWAYS if name not in present]
                if api and b"cache-control" not in present:
                    headers.append(_NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
