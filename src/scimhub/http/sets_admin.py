"""Admin API routes of SET streams and signing keys (mounted by ``http.admin.admin_app``).

``/admin/v1/tenants/{tenant}/streams`` like webhooks: list, add (push or poll), show, remove,
delivery log; ``/admin/v1/tenants/{tenant}/set-keys``: list, rotate, retire.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scimhub.events import feed
from scimhub.http.admin import AdminError
from scimhub.http.admin import JSONResponse
from scimhub.http.admin import _int_param
from scimhub.http.admin import _json_body
from scimhub.http.admin import _route
from scimhub.http.admin import _rt
from scimhub.http.admin import _tenant
from scimhub.http.sets import jwks_path
from scimhub.http.sets import poll_path
from scimhub.sets import streams as stream_ops
from scimhub.sets.push import redeliver
from scimhub.sets.signer import SetSigner
from scimhub.store.events_sql import Attempt
from scimhub.store.sets_sql import Stream
from scimhub.store.sets_sql import StreamStore
from scimhub.timestamps import utc_now

SCIM_PREFIX = "/scim/v2"  # as app.SCIM_PREFIX (not imported: app imports this layer)


def _signer(request: Request) -> SetSigner:
    found = _rt(request).sets
    if found is None:
        raise AdminError(404, "SET streams need the SQL store and the sets extra (pip install 'scimhub[sets]').")
    return found


def _streams(request: Request) -> StreamStore:
    return _signer(request).streams


async def _stream(request: Request) -> Stream:
    tenant = await _tenant(request)
    found = await _streams(request).get_stream(request.path_params["id"], tenant.id)
    if found is None:
        raise AdminError(404, f"No stream {request.path_params['id']} in tenant {tenant.name!r}.")
    return found


def _root(request: Request) -> str:
    """The server root as this request reached it (the admin API is mounted below it)."""
    url = str(request.url)
    return url[: url.rindex("/admin/v1")] if "/admin/v1" in url else str(request.base_url).rstrip("/")


def _view(request: Request, stream: Stream) -> dict[str, Any]:
    view = {**stream.to_json(), "jwksUri": _root(request) + jwks_path(stream.tenant_id)}
    if stream.url is None:
        view["pollUri"] = _root(request) + poll_path(stream.id)
    return view


def _attempt_json(attempt: Attempt) -> dict[str, Any]:
    """A delivery-log row of a stream (the shared Attempt names its consumer ``webhookId``)."""
    shown = attempt.to_json()
    return {"id": shown.pop("id"), "streamId": shown.pop("webhookId"), **shown}


def _stream_request(body: dict[str, Any]) -> tuple[str | None, str, str | None, bool, int | None]:
    push, poll, audience = body.get("push"), body.get("poll", False), body.get("audience")
    issuer, full, after = body.get("issuer"), body.get("full", False), body.get("after")
    usage = 'Send {"push": "https://…"} or {"poll": true}, with "audience" and optional "issuer", "full", "after".'
    if (push is None) == (poll is not True) or (push is not None and not isinstance(push, str)):
        raise AdminError(400, usage)
    if not isinstance(audience, str) or not isinstance(full, bool):
        raise AdminError(400, usage)
    if issuer is not None and not isinstance(issuer, str):
        raise AdminError(400, usage)
    if after is not None and (not isinstance(after, int) or isinstance(after, bool)):
        raise AdminError(400, usage)
    return push, audience, issuer, full, after


async def list_streams(request: Request) -> Response:
    tenant = await _tenant(request)
    found = await _streams(request).list_streams(tenant.id)
    return JSONResponse({"streams": [_view(request, s) for s in found]})


async def create_stream(request: Request) -> Response:
    """POST → 201; a poll stream's bearer token is in the answer this once."""
    tenant = await _tenant(request)
    push, audience, issuer, full, after = _stream_request(await _json_body(request))
    rt = _rt(request)
    try:
        created, token = await stream_ops.add_stream(
            _streams(request),
            tenant.id,
            audience=audience,
            issuer=issuer or rt.base_url or _root(request) + SCIM_PREFIX,
            push_url=push,
            full=full,
            after=after,
            allow_private=rt.webhook_allow_private,
        )
    except ValueError as exc:
        raise AdminError(400, str(exc)) from None
    view = _view(request, created)
    if token is not None:
        view["token"] = token
    return JSONResponse(view, 201)


async def get_stream(request: Request) -> Response:
    return JSONResponse(_view(request, await _stream(request)))


async def delete_stream(request: Request) -> Response:
    found = await _stream(request)
    await _streams(request).remove_stream(found.id)
    return Response(status_code=204)


async def list_stream_attempts(request: Request) -> Response:
    """The delivery log: GET tenants/{tenant}/streams/{id}/attempts?after=ID&limit=N."""
    found = await _stream(request)
    after = _int_param(request, "after", 0) or 0
    rows = await _streams(request).attempts(found.id, after, feed.clamp_limit(_int_param(request, "limit")))
    return JSONResponse({"attempts": [_attempt_json(a) for a in rows], "next_after": rows[-1].pk if rows else after})


async def list_keys(request: Request) -> Response:
    tenant = await _tenant(request)
    found = await _streams(request).keys(tenant.id)
    return JSONResponse({"keys": [k.to_json() for k in found], "jwksUri": _root(request) + jwks_path(tenant.id)})


async def rotate_key(request: Request) -> Response:
    """POST: a new active key; the previous one stays published until retired."""
    tenant = await _tenant(request)
    made = await _streams(request).rotate_key(tenant.id, utc_now())
    return JSONResponse(made.to_json(), 201)


async def retire_key(request: Request) -> Response:
    """DELETE a rotated-out key from the JWKS (the active key cannot be retired)."""
    tenant = await _tenant(request)
    kid = request.path_params["kid"]
    if not await _streams(request).retire_key(tenant.id, kid):
        detail = f"No rotated-out key {kid!r} in tenant {tenant.name!r} (the active key is never retired)."
        raise AdminError(404, detail)
    return Response(status_code=204)


async def redeliver_stream(request: Request) -> Response:
    """POST tenants/{tenant}/streams/{id}/redeliver {"seq": N?}: push dead letters again now."""
    found = await _stream(request)
    seq = (await _json_body(request)).get("seq")
    if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool)):
        raise AdminError(400, "seq must be an integer.")
    if found.url is None:
        raise AdminError(400, f"Stream {found.id} is polled: its receiver reports SET errors, nothing is pushed.")
    attempts = await redeliver(_rt(request).sender, _signer(request), found, seq)
    if seq is not None and not attempts:
        raise AdminError(404, f"Seq {seq} is not a dead letter of stream {found.id}.")
    return JSONResponse({"attempts": [_attempt_json(a) for a in attempts]})


def stream_routes(tenant: str) -> list[Route]:
    stream = f"{tenant}/streams/{{id}}"
    return [
        _route(f"{tenant}/streams", GET=list_streams, POST=create_stream),
        _route(stream, GET=get_stream, DELETE=delete_stream),
        _route(f"{stream}/attempts", GET=list_stream_attempts),
        _route(f"{stream}/redeliver", POST=redeliver_stream),
        _route(f"{tenant}/set-keys", GET=list_keys),
        _route(f"{tenant}/set-keys/rotate", POST=rotate_key),
        _route(f"{tenant}/set-keys/{{kid}}", DELETE=retire_key),
    ]
