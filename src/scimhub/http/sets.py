"""Public SET endpoints (``/sets/v1``): each tenant's JWKS and the RFC 8936 poll endpoints.

Not under ``/scim/v2``: neither takes a SCIM token. The JWKS is public (RFC 7517 key sets hold
public keys only); a poll is authenticated by its stream's own bearer token (``sst_…``).
Errors are RFC 8935 §2.4 bodies: ``{"err": "...", "description": "..."}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from scimhub.sets import keys as set_keys
from scimhub.sets import poll as set_poll
from scimhub.sets.signer import SetSigner
from scimhub.sets.streams import token_matches
from scimhub.store.sets_sql import POLL
from scimhub.store.sets_sql import StreamStore

SETS_PREFIX = "/sets/v1"
MAX_POLL_BODY = 256 * 1024
_REALM = 'Bearer realm="scimhub-sets"'


def jwks_path(tenant_id: str) -> str:
    """Where a tenant's JWKS is published, below the server root."""
    return f"{SETS_PREFIX}/tenants/{tenant_id}/jwks.json"


def poll_path(stream_id: str) -> str:
    """A poll stream's RFC 8936 endpoint, below the server root."""
    return f"{SETS_PREFIX}/streams/{stream_id}/poll"


@dataclass(frozen=True, slots=True)
class SetsRuntime:
    signer: SetSigner
    signal: set_poll.CommitSignal
    poll_wait_seconds: float

    @property
    def streams(self) -> StreamStore:
        return self.signer.streams


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _error(status: int, err: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"err": err, "description": description}, status, headers)


def _rt(request: Request) -> SetsRuntime:
    rt: SetsRuntime = request.app.state.sets
    return rt


async def jwks(request: Request) -> Response:
    """GET: the tenant's published keys (active and rotated-out, never retired)."""
    found = await _rt(request).streams.keys(request.path_params["tenant_id"])
    if not found:
        return _error(404, "not_found", "No SET signing keys are published for this tenant.")
    # Short caching: a rotation is seen within a minute; old keys stay published meanwhile.
    return JSONResponse(set_keys.jwks(found), headers={"cache-control": "public, max-age=60"})


async def poll_endpoint(request: Request) -> Response:
    """POST: RFC 8936 §2 poll (acks, setErrs, maxEvents, returnImmediately)."""
    rt = _rt(request)
    stream = await rt.streams.get_stream(request.path_params["stream_id"])
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    authorised = stream is not None and scheme.casefold() == "bearer" and token_matches(stream, token.strip())
    if stream is None or stream.mode != POLL or not authorised:
        # One answer for an unknown stream and a wrong token: a stream id alone says nothing.
        return _error(
            401,
            "authentication_failed",
            "Send 'Authorization: Bearer <the stream's poll token>'.",
            {"WWW-Authenticate": _REALM},
        )
    raw = await request.body()
    if len(raw) > MAX_POLL_BODY:
        return _error(413, "invalid_request", f"The poll request is larger than {MAX_POLL_BODY} bytes.")
    try:
        parsed = set_poll.parse_request(stream.id, orjson.loads(raw or b"{}"))
    except orjson.JSONDecodeError:
        return _error(400, "invalid_request", "The poll request is not valid JSON.")
    except set_poll.PollError as exc:
        return _error(400, "invalid_request", str(exc))
    body = await set_poll.poll(rt.signer, stream, parsed, wait_seconds=rt.poll_wait_seconds, signal=rt.signal)
    return JSONResponse(body)


async def _not_found(request: Request, _exc: Exception) -> Response:
    return _error(404, "not_found", f"No SET endpoint at {request.url.path}.")


async def _not_allowed(request: Request, _exc: Exception) -> Response:
    return _error(405, "invalid_request", f"{request.method} is not allowed on {request.url.path}.")


def sets_app(runtime: SetsRuntime) -> ASGIApp:
    """The public SET endpoints as an ASGI app, to mount at ``/sets/v1``."""
    app = Starlette(
        routes=[
            Route("/tenants/{tenant_id}/jwks.json", jwks, methods=["GET"]),
            Route("/streams/{stream_id}/poll", poll_endpoint, methods=["POST"]),
        ],
        exception_handlers={404: _not_found, 405: _not_allowed},
    )
    app.state.sets = runtime
    return app
