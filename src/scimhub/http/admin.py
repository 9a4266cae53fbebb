"""The admin API (``/admin/v1``): event feed, webhooks, delivery log, audit log, extension schemas.

For the host application, not for identity providers: authenticated by the single bearer token
``SCIMHUB_ADMIN_TOKEN`` (RFC 6750), compared in constant time. SCIM tokens are never accepted
here and the admin token never on the SCIM API. Without the setting every admin URL answers
404 (the API does not exist). Bodies are plain JSON (``{"detail": ...}`` on errors).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from scimhub.events import feed
from scimhub.events import webhooks as webhook_ops
from scimhub.events.sender import Sender
from scimhub.http.activity import ActivityRecorder
from scimhub.http.request_log import RequestLogBuffer
from scimhub.protocol import tenant_schemas as schema_ops
from scimhub.protocol.tenant_config import CACHE_SECONDS
from scimhub.safety.health import Thresholds
from scimhub.schema.declare import DeclaredSchema
from scimhub.schema.declare import SchemaDocumentError
from scimhub.sets.signer import SetSigner
from scimhub.store.base import Store
from scimhub.store.base import Tenant
from scimhub.store.events_sql import EventStore
from scimhub.store.events_sql import Webhook
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.store.sql import SqlStore

ADMIN_PREFIX = "/admin/v1"
_REALM = 'Bearer realm="scimhub-admin"'
MAX_BODY = 64 * 1024


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return b"" if content is None else orjson.dumps(content)


class AdminError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status, headers)


class AdminAuthMiddleware:
    """Bearer SCIMHUB_ADMIN_TOKEN or 401 (RFC 6750 §3); 404 for everything when it is unset."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self._digest = None if not token else hashlib.sha256(token.encode()).digest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._digest is None:
            response = _error(404, "The admin API is disabled: set SCIMHUB_ADMIN_TOKEN to enable it.")
        elif not self._authorised(scope):
            response = _error(401, "Send 'Authorization: Bearer <SCIMHUB_ADMIN_TOKEN>'.", {"WWW-Authenticate": _REALM})
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        header = next((bytes(v).decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), "")
        scheme, _, token = header.strip().partition(" ")
        if scheme.casefold() != "bearer" or not token.strip():
            return False
        # Digests of equal length: the comparison time says nothing about the token.
        presented = hashlib.sha256(token.strip().encode()).digest()
        return hmac.compare_digest(presented, self._digest or b"")


@dataclass(frozen=True, slots=True)
class AdminRuntime:
    store: Store
    events: EventStore
    sender: Sender
    request_log: RequestLogBuffer | None = None
    # SCIMHUB_WEBHOOK_ALLOW_PRIVATE: whoever holds the admin token may relay customers' URLs, so
    # by default a webhook added here must point at public addresses (checked again per delivery).
    webhook_allow_private: bool = False
    wake: Callable[[], None] | None = None  # the delivery worker's wake-up (a released hold)
    activity: ActivityRecorder | None = None  # this process's SCIM traffic counters (sync health)
    health: Thresholds = field(default_factory=Thresholds)
    sets: SetSigner | None = None  # SET streams and keys (scimhub.sets): None without the sets extra
    base_url: str | None = None  # SCIMHUB_BASE_URL: a new stream's default issuer
    public_url: str | None = None  # SCIMHUB_PUBLIC_URL: the host of setup links' URLs
    # How long servers cache a tenant's declarations: an index is used once every server maintains it.
    tenant_config_seconds: float = CACHE_SECONDS
    token_pepper: str | None = None  # SCIMHUB_TOKEN_PEPPER: tokens issued here are stored as the CLI stores them
    # A tenant deletion's wait before its last sweep: how long servers may still let its
    # requests in (token recheck) and hold its request log (flush), as `scimhub tenant delete`.
    deletion_grace_seconds: float = 0.0


def _rt(request: Request) -> AdminRuntime:
    rt: AdminRuntime = request.app.state.admin
    return rt


admin_runtime = _rt


async def _tenant(request: Request) -> Tenant:
    name = request.path_params["tenant"]
    tenant = await _rt(request).store.tenant_by_name(name)
    if tenant is None:
        raise AdminError(404, f"No tenant named {name!r}.")
    return tenant


async def _webhook(request: Request) -> Webhook:
    tenant = await _tenant(request)
    found = await _rt(request).events.get_webhook(request.path_params["id"], tenant.id)
    if found is None:
        raise AdminError(404, f"No webhook {request.path_params['id']} in tenant {tenant.name!r}.")
    return found


path_tenant = _tenant


def _int_param(request: Request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise AdminError(400, f"{name} must be a non-negative integer, got {raw!r}.")
    return int(raw)


int_param = _int_param


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise AdminError(413, "The request body is too large.")
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise AdminError(400, f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise AdminError(400, "The request body must be a JSON object.")
    return body


json_body = _json_body


# -- endpoints -------------------------------------------------------------------------------
async def read_events(request: Request) -> Response:
    """GET tenants/{tenant}/events?after=SEQ&limit=N → {"events": [...], "next_after": SEQ}."""
    tenant = await _tenant(request)
    after = _int_param(request, "after", 0) or 0
    try:
        page = await feed.read_feed(_rt(request).events, tenant.id, after, _int_param(request, "limit"))
    except feed.CursorExpired as exc:
        # The resynchronisation's restart point, for clients (scimhub.client) to act on.
        body = {"detail": str(exc), "oldest": exc.oldest, "resume_after": exc.oldest - 1}
        return JSONResponse(body, 410)
    return JSONResponse(page.to_json())


async def read_audit(request: Request) -> Response:
    """GET tenants/{tenant}/audit?after=ID&limit=N → {"entries": [...], "next_after": ID}."""
    tenant = await _tenant(request)
    after = _int_param(request, "after", 0) or 0
    entries = await _rt(request).events.audit(tenant.id, after, feed.clamp_limit(_int_param(request, "limit")))
    return JSONResponse({"entries": entries, "next_after": entries[-1]["id"] if entries else after})


async def read_requests(request: Request) -> Response:
    """GET tenants/{tenant}/requests?failed=true&limit=N: the tenant's last SCIM requests, newest
    first, with redacted, size-capped bodies ("why did Entra's provisioning fail?")."""
    tenant = await _tenant(request)
    buffer = _rt(request).request_log
    if buffer is None:
        raise AdminError(404, "The request log is disabled (SCIMHUB_REQUEST_LOG_SIZE=0).")
    await buffer.flush()
    failed = request.query_params.get("failed", "").lower() in ("1", "true", "yes")
    limit = feed.clamp_limit(_int_param(request, "limit"))
    return JSONResponse({"requests": await buffer.store.recent(tenant.id, limit, failed)})


async def list_webhooks(request: Request) -> Response:
    tenant = await _tenant(request)
    return JSONResponse({"webhooks": [w.to_json() for w in await _rt(request).events.list_webhooks(tenant.id)]})


async def create_webhook(request: Request) -> Response:
    """POST {"url": ..., "after": SEQ?, "batch": N?} → 201 with the signing secret (shown only this once)."""
    tenant = await _tenant(request)
    body = await _json_body(request)
    url, after = body.get("url"), body.get("after")
    if not isinstance(url, str) or (after is not None and (not isinstance(after, int) or isinstance(after, bool))):
        raise AdminError(400, 'Send {"url": "https://…", "after": <optional seq>, "batch": <optional size>}.')
    rt = _rt(request)
    try:
        created = await webhook_ops.add_webhook(
            rt.events, tenant.id, url, after, allow_private=rt.webhook_allow_private, batch=body.get("batch", 1)
        )
    except ValueError as exc:
        raise AdminError(400, str(exc)) from None
    return JSONResponse({**created.to_json(), "secret": created.secret}, 201)


async def get_webhook(request: Request) -> Response:
    found = await _webhook(request)
    dead = await _rt(request).events.dead_letters(found.id)
    return JSONResponse({**found.to_json(), "deadLetters": [{"seq": d.seq, "eventId": d.event_id} for d in dead]})


async def delete_webhook(request: Request) -> Response:
    found = await _webhook(request)
    await _rt(request).events.remove_webhook(found.id)
    return Response(status_code=204)


async def list_attempts(request: Request) -> Response:
    """The delivery log: GET tenants/{tenant}/webhooks/{id}/attempts?after=ID&limit=N."""
    found = await _webhook(request)
    after = _int_param(request, "after", 0) or 0
    rows = await _rt(request).events.attempts(found.id, after, feed.clamp_limit(_int_param(request, "limit")))
    return JSONResponse({"attempts": [a.to_json() for a in rows], "next_after": rows[-1].pk if rows else after})


async def redeliver(request: Request) -> Response:
    """POST tenants/{tenant}/webhooks/{id}/redeliver {"seq": N?}: send dead letters again now."""
    found = await _webhook(request)
    seq = (await _json_body(request)).get("seq")
    if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool)):
        raise AdminError(400, "seq must be an integer.")
    rt = _rt(request)
    attempts = await webhook_ops.redeliver(rt.events, rt.sender, found, seq)
    if seq is not None and not attempts:
        raise AdminError(404, f"Seq {seq} is not a dead letter of webhook {found.id}.")
    return JSONResponse({"attempts": [a.to_json() for a in attempts]})


# -- extension schemas (the same operations as `scimhub schema`) -----------------------------
def _schema_store(request: Request) -> TenantSchemaStore:
    store = _rt(request).store
    assert isinstance(store, SqlStore)  # the admin API exists only on the SQL store
    return TenantSchemaStore(store.db)


def _schema_json(declared: DeclaredSchema) -> dict[str, Any]:
    return {**schema_ops.summary(declared), "document": declared.document}


async def list_schemas(request: Request) -> Response:
    """GET tenants/{tenant}/schemas → {"schemas": [{id, resourceType, required, attributes, indexed}]}."""
    tenant = await _tenant(request)
    declared = await _schema_store(request).declared(tenant.id)
    return JSONResponse({"schemas": [schema_ops.summary(d) for d in declared]})


async def add_schema(request: Request) -> Response:
    """POST {"schema": <RFC 7643 §7 document>, "resourceType": "User"|"Group", "required": false}:
    201 when declared, 200 when it updated the declaration of the same URN; servers use it within 10 s."""
    tenant = await _tenant(request)
    body = await _json_body(request)
    document, resource_type = body.get("schema"), body.get("resourceType", "User")
    required = body.get("required", False)
    if not isinstance(document, dict) or not isinstance(resource_type, str) or not isinstance(required, bool):
        raise AdminError(400, 'Send {"schema": {"id": "urn:…", "attributes": [...]}, "resourceType": "User"}.')
    try:
        declared, replaced = await schema_ops.add_schema(
            _schema_store(request), tenant.id, document, resource_type, required=required
        )
    except SchemaDocumentError as exc:
        raise AdminError(400, str(exc)) from None
    return JSONResponse(_schema_json(declared), 200 if replaced else 201)


async def get_schema(request: Request) -> Response:
    tenant = await _tenant(request)
    try:
        found = await schema_ops.find_schema(_schema_store(request), tenant.id, request.path_params["urn"])
    except LookupError as exc:
        raise AdminError(404, str(exc)) from None
    return JSONResponse(_schema_json(found))


async def add_index(request: Request) -> Response:
    """PUT tenants/{tenant}/schemas/{urn}/indexes/{name}: index a string attribute for eq filters.
    Answers once every server maintains the index and the stored values are in it (the tenant
    config cache's time, plus a second, and the indexing)."""
    tenant = await _tenant(request)
    urn, name = request.path_params["urn"], request.path_params["name"]
    settle = schema_ops.settle_for(_rt(request).tenant_config_seconds)
    try:
        declared, count = await schema_ops.add_index(_schema_store(request), tenant.id, urn, name, settle)
    except SchemaDocumentError as exc:
        raise AdminError(400, str(exc)) from None
    except LookupError as exc:
        raise AdminError(404, str(exc)) from None
    return JSONResponse({**_schema_json(declared), "indexedResources": count})


async def remove_index(request: Request) -> Response:
    """DELETE tenants/{tenant}/schemas/{urn}/indexes/{name}: filters stop using it, then its rows go."""
    tenant = await _tenant(request)
    urn, name = request.path_params["urn"], request.path_params["name"]
    settle = schema_ops.settle_for(_rt(request).tenant_config_seconds)
    try:
        await schema_ops.drop_index(_schema_store(request), tenant.id, urn, name, settle)
    except LookupError as exc:
        raise AdminError(404, str(exc)) from None
    return Response(status_code=204)


async def remove_schema(request: Request) -> Response:
    """DELETE: forget the declaration; stored values stay in the resources."""
    tenant = await _tenant(request)
    try:
        settle = schema_ops.settle_for(_rt(request).tenant_config_seconds)
        await schema_ops.remove_schema(_schema_store(request), tenant.id, request.path_params["urn"], settle)
    except LookupError as exc:
        raise AdminError(404, str(exc)) from None
    return Response(status_code=204)


# -- the app ---------------------------------------------------------------------------------
Endpoint = Callable[[Request], Awaitable[Response]]


def _route(path: str, **handlers: Endpoint) -> Route:
    async def dispatch(request: Request) -> Response:
        # Starlette routes HEAD wherever GET is allowed; GET answers it.
        return await handlers.get(request.method, handlers.get("GET", _not_allowed))(request)

    return Route(path, dispatch, methods=list(handlers))


async def _not_allowed(request: Request) -> Response:
    raise AdminError(405, f"{request.method} is not allowed on {request.url.path}.")


async def _admin_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AdminError)
    return _error(exc.status, exc.detail, exc.headers)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, str(exc.detail), dict(exc.headers or {}))


def _safety_routes(tenant: str) -> list[Route]:
    from scimhub.http import admin_safety as safety  # imports this module's helpers

    return [
        _route(f"{tenant}/held", GET=safety.read_held),
        _route(f"{tenant}/release", POST=safety.release),
        _route(f"{tenant}/pause", POST=safety.pause),
        _route(f"{tenant}/resume", POST=safety.resume),
        _route(f"{tenant}/status", GET=safety.read_status),
    ]


def admin_app(token: str | None, runtime: AdminRuntime) -> ASGIApp:
    """The admin API as an ASGI app, to mount at ``/admin/v1``."""
    from scimhub.http import admin_directory  # these import this module's helpers
    from scimhub.http.admin_roles import role_routes
    from scimhub.http.admin_setup import setup_link_routes
    from scimhub.http.admin_tenants import tenant_routes
    from scimhub.http.sets_admin import stream_routes

    tenant = "/tenants/{tenant}"
    hook = f"{tenant}/webhooks/{{id}}"
    app = Starlette(
        routes=[
            *tenant_routes(_route),
            _route(f"{tenant}/events", GET=read_events),
            _route(f"{tenant}/audit", GET=read_audit),
            _route(f"{tenant}/requests", GET=read_requests),
            _route(f"{tenant}/webhooks", GET=list_webhooks, POST=create_webhook),
            _route(hook, GET=get_webhook, DELETE=delete_webhook),
            _route(f"{hook}/attempts", GET=list_attempts),
            _route(f"{hook}/redeliver", POST=redeliver),
            _route(f"{tenant}/schemas", GET=list_schemas, POST=add_schema),
            _route(f"{tenant}/schemas/{{urn}}", GET=get_schema, DELETE=remove_schema),
            _route(f"{tenant}/schemas/{{urn}}/indexes/{{name}}", PUT=add_index, DELETE=remove_index),
            *stream_routes(tenant),
            *admin_directory.directory_routes(tenant),
            *_safety_routes(tenant),
            *role_routes(tenant),
            *setup_link_routes(tenant),
        ],
        exception_handlers={AdminError: _admin_error, HTTPException: _http_error},
    )
    app.state.admin = runtime
    return AdminAuthMiddleware(app, token)
