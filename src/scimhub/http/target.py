"""The request-target of a SCIM request, checked once before anything else runs.

- A documented limit on its length, answered as SCIM JSON (RFC 9110 §15.5.15, 414). The HTTP
  server has limits of its own above this one: uvicorn's httptools parser refuses a request-target
  over 65,535 bytes, and its h11 parser a request head that arrives in pieces over 16 KiB, each
  with a plain-text 400 before any application sees the request. Long queries belong in the body
  of ``POST …/.search`` (RFC 7644 §3.4.3), which the answer says.
- A trailing slash names the same endpoint: ``/Users/{id}/`` is ``/Users/{id}``, where Starlette's
  router would redirect (307) after authentication; a client that does not follow redirects on
  PATCH or DELETE failed, and the redirect's Location was built from the request (an http:// URL
  behind a TLS proxy).

One layer for both: every SCIM request passes it.
"""

from __future__ import annotations

from starlette.types import ASGIApp
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from scimhub.errors import UriTooLong
from scimhub.http.errors import error_response

MAX_URL_BYTES = 8192  # path and query as sent (percent-encoded), like nginx's and Apache's defaults


class RequestTarget:
    """414 with a SCIM error body when path + query exceed ``max_bytes``; one trailing slash dropped."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_URL_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = url_bytes(scope)
            if size > self.max_bytes:
                await error_response(_too_long(size, self.max_bytes))(scope, receive, send)
                return
            path: str = scope["path"]
            if path[-1:] == "/" and len(path) > len(scope.get("root_path", "")) + 1:
                scope = {**scope, "path": path[:-1]}
        await self.app(scope, receive, send)


def url_bytes(scope: Scope) -> int:
    """The request-target's length as sent: ``raw_path`` is percent-encoded, ``path`` decoded."""
    raw = scope.get("raw_path")
    path = len(raw) if raw is not None else len(scope["path"].encode())
    query = len(scope.get("query_string", b""))
    return path + (query + 1 if query else 0)


def _too_long(size: int, limit: int) -> UriTooLong:
    return UriTooLong(
        f"The request URL is {size} bytes; this server accepts at most {limit}. Send a long filter "
        "or attribute list in the body of POST /Users/.search, /Groups/.search or /.search (RFC 7644 §3.4.3)."
    )
