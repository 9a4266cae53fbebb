"""Onboarding through the admin API: tenants and their SCIM bearer tokens.

The same operations, and the same rules, as ``scimhub tenant`` and ``scimhub token``
(``protocol.tenants``), so that a SaaS backend can switch SCIM on for a customer from its own
settings page: create the tenant, issue a token (its secret is in that one answer only), rotate
it with an overlap, revoke it, delete the tenant.

A tenant's deletion removes its rows a bounded batch a transaction; one of a million users takes
minutes. The request waits for it up to ``DELETE_WAIT_SECONDS`` (200 when done), else answers
202 and the deletion goes on in this server; ``GET`` the tenant to follow it (``deletion``), and
send ``DELETE`` again to resume one a restart interrupted (its tokens went first, so no IdP can
write to it meanwhile).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scimhub.errors import Conflict
from scimhub.errors import NotFound
from scimhub.events import feed
from scimhub.http.admin import AdminError
from scimhub.http.admin import JSONResponse
from scimhub.http.admin import admin_runtime
from scimhub.http.admin import int_param
from scimhub.http.admin import json_body
from scimhub.http.admin import path_tenant
from scimhub.protocol import tenants as tenant_ops
from scimhub.safety.hold import HoldKind
from scimhub.store.base import Tenant
from scimhub.store.base import TokenRecord
from scimhub.store.holds_sql import HoldStore
from scimhub.store.sql import SqlStore
from scimhub.store.tenant_catalog_sql import TenantCatalog
from scimhub.store.tenant_catalog_sql import TenantCounts

# How long a DELETE waits for the deletion before it answers 202 and lets it go on.
DELETE_WAIT_SECONDS = 5.0
# Longest token lifetime and rotation overlap accepted (the CLI takes any; an API caller's typo
# of a few extra digits should not mint a token for millennia).
MAX_EXPIRES_IN_DAYS = 3650
MAX_OVERLAP_HOURS = 24 * 90
DEFAULT_OVERLAP_HOURS = 24.0


@dataclass(slots=True)
class _Deletion:
    task: asyncio.Task[tenant_ops.TenantDeletion]
    started_at: str
    transactions: int = 0
    table: str = ""


@dataclass(slots=True)
class Deletions:
    """The tenant deletions running in this server, by tenant id."""

    running: dict[str, _Deletion] = field(default_factory=dict)


def _sql_store(request: Request) -> SqlStore:
    store = admin_runtime(request).store
    assert isinstance(store, SqlStore)  # the admin API exists only on the SQL store
    return store


def _deletions(request: Request) -> Deletions:
    state = request.app.state
    if not hasattr(state, "tenant_deletions"):
        state.tenant_deletions = Deletions()
    found: Deletions = state.tenant_deletions
    return found


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def tenant_json(tenant: Tenant, counts: TenantCounts | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": tenant.id, "name": tenant.name, "createdAt": tenant.created_at}
    if counts is not None:
        body.update(users=counts.users, groups=counts.groups, activeTokens=counts.active_tokens)
    return body


def token_json(record: TokenRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "prefix": record.prefix,
        "createdAt": record.created_at,
        "lastUsedAt": record.last_used_at,
        "expiresAt": record.expires_at,
        "revokedAt": record.revoked_at,
    }


def _issued_json(record: TokenRecord, secret: str) -> dict[str, Any]:
    # The secret is in this answer only: the database keeps its digest.
    return {**token_json(record), "token": secret}


# -- tenants ---------------------------------------------------------------------------------------
async def create_tenant(request: Request) -> Response:
    """POST /tenants {"name": …} → 201 {id, name, createdAt}; 400 for a name the rule refuses; 409 taken."""
    name = (await json_body(request)).get("name")
    if not isinstance(name, str):
        raise AdminError(400, 'Send {"name": "<tenant name>"}.')
    try:
        created = await tenant_ops.create_tenant(admin_runtime(request).store, name)
    except ValueError as exc:
        raise AdminError(400, str(exc)) from None
    except Conflict as exc:
        raise AdminError(409, str(exc)) from None
    return JSONResponse(tenant_json(created), 201, {"Location": f"{request.url.path}/{created.name}"})


async def list_tenants(request: Request) -> Response:
    """GET /tenants?prefix=&limit=&cursor= → {"tenants": [...], "next_cursor": …} in name order."""
    limit = feed.clamp_limit(int_param(request, "limit"))
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and len(cursor) > 200:
        raise AdminError(400, "cursor is not one this API gave.")
    prefix = request.query_params.get("prefix", "")
    catalog = TenantCatalog(_sql_store(request).db)
    # One row more than asked for tells whether there is a next page.
    found = await catalog.page(cursor, limit + 1, prefix)
    page = found[:limit]
    counts = await catalog.counts([t.id for t in page], _now())
    return JSONResponse(
        {
            "tenants": [tenant_json(t, counts[t.id]) for t in page],
            "next_cursor": page[-1].name if len(found) > limit else None,
        }
    )


async def get_tenant(request: Request) -> Response:
    """GET /tenants/{tenant} → the tenant, its counts, its hold and a deletion under way, if any."""
    tenant = await path_tenant(request)
    counts = await TenantCatalog(_sql_store(request).db).counts([tenant.id], _now())
    body = tenant_json(tenant, counts[tenant.id])
    hold = await HoldStore(_sql_store(request).db).hold(tenant.id)
    body["held"] = None if hold is None else hold.to_json()
    deletion = _deletions(request).running.get(tenant.id)
    if deletion is not None:
        body["deletion"] = {
            "startedAt": deletion.started_at,
            "transactions": deletion.transactions,
            "table": deletion.table,
        }
    return JSONResponse(body)


async def delete_tenant(request: Request) -> Response:
    """DELETE /tenants/{tenant}[?force=true]: 200 with what it removed, or 202 while it goes on here.

    409 while the tenant's event stream is held or its webhooks owe deliveries, unless force
    (the same refusals as ``scimhub tenant delete``)."""
    tenant = await path_tenant(request)
    force = request.query_params.get("force", "").lower() in ("1", "true", "yes")
    deletions = _deletions(request)
    running = deletions.running.get(tenant.id)
    if running is None:
        store = _sql_store(request)
        if not force:
            await _refuse_if_held(store, tenant)
            try:
                await tenant_ops.check_deliveries(store, tenant)
            except tenant_ops.DeliveriesPending as exc:
                described = "; ".join(tenant_ops.describe_pending(p) for p in exc.pending)
                raise AdminError(
                    409,
                    f"Tenant {tenant.name!r} has webhook deliveries pending ({described}). Wait for them, "
                    "remove the webhooks, or delete anyway with ?force=true.",
                ) from None
        running = _start(deletions, store, tenant, force, admin_runtime(request).deletion_grace_seconds)
    done, _ = await asyncio.wait({running.task}, timeout=DELETE_WAIT_SECONDS)
    if not done:
        detail = f"Deleting tenant {tenant.name!r}; GET it to follow the deletion."
        return JSONResponse({"detail": detail, "transactions": running.transactions}, 202)
    deletion = running.task.result()  # raises what the deletion raised
    return JSONResponse({"removed": deletion.removed, "transactions": deletion.transactions}, 200)


def _start(deletions: Deletions, store: SqlStore, tenant: Tenant, force: bool, grace: float) -> _Deletion:
    def progress(table: str, _count: int) -> None:
        entry.transactions += 1
        entry.table = table

    async def delete() -> tenant_ops.TenantDeletion:
        try:
            return await tenant_ops.delete_tenant(store, tenant, force=force, grace=grace, progress=progress)
        finally:
            deletions.running.pop(tenant.id, None)

    entry = _Deletion(asyncio.get_running_loop().create_task(delete()), _now())
    deletions.running[tenant.id] = entry
    return entry


async def _refuse_if_held(store: SqlStore, tenant: Tenant) -> None:
    hold = await HoldStore(store.db).hold(tenant.id)
    if hold is None:
        return
    lift = "release" if hold.kind == HoldKind.GUARD else "resume"
    raise AdminError(
        409,
        f"Tenant {tenant.name!r} has its event stream held since seq {hold.from_seq} ({hold.kind.value}: "
        f"{hold.reason}). Review it (GET …/held), lift it (POST …/{lift}), or delete anyway with ?force=true.",
    )


# -- tokens ----------------------------------------------------------------------------------------
def _number(body: dict[str, Any], name: str, default: float | None, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:  # absent or null: the default
        return default
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise AdminError(400, f"{name} must be a number from {low:g} to {high:g}, got {value!r}.")
    return float(value)


async def issue_token(request: Request) -> Response:
    """POST /tenants/{tenant}/tokens {"expires_in_days": N?} → 201 with the token (shown only here)."""
    tenant = await path_tenant(request)
    days = _number(await json_body(request), "expires_in_days", None, 1, MAX_EXPIRES_IN_DAYS)
    if days is not None and days != int(days):
        raise AdminError(400, f"expires_in_days must be a whole number of days, got {days:g}.")
    rt = admin_runtime(request)
    record, secret = await tenant_ops.issue_token(
        rt.store, tenant, rt.token_pepper, None if days is None else int(days)
    )
    return JSONResponse(_issued_json(record, secret), 201)


async def list_tokens(request: Request) -> Response:
    """GET /tenants/{tenant}/tokens → {"tokens": [...]} (never a secret: the database has none)."""
    tenant = await path_tenant(request)
    records = await admin_runtime(request).store.list_tokens(tenant.id)
    return JSONResponse({"tokens": [token_json(r) for r in records]})


async def _token(request: Request) -> tuple[Tenant, TokenRecord]:
    """The path's token, if it is one of the path's tenant's (a token id never reaches across tenants)."""
    tenant = await path_tenant(request)
    token_id = request.path_params["id"]
    record = await admin_runtime(request).store.token_by_id(token_id)
    if record is None or record.tenant_id != tenant.id:
        raise AdminError(404, f"No token {token_id} in tenant {tenant.name!r}.")
    return tenant, record


async def rotate_token(request: Request) -> Response:
    """POST …/tokens/{id}/rotate {"overlap_hours": H?} → 201 with the new token; the old one keeps
    working H hours (24 by default), so the IdP can be given the new one first."""
    _tenant, record = await _token(request)
    overlap = _number(await json_body(request), "overlap_hours", DEFAULT_OVERLAP_HOURS, 0, MAX_OVERLAP_HOURS)
    assert overlap is not None
    rt = admin_runtime(request)
    try:
        new, secret = await tenant_ops.rotate_token(rt.store, record.id, overlap, rt.token_pepper)
    except NotFound as exc:
        raise AdminError(404, str(exc)) from None
    old = await rt.store.token_by_id(record.id)
    body = _issued_json(new, secret)
    body["replaces"] = token_json(old or record)
    return JSONResponse(body, 201)


async def revoke_token(request: Request) -> Response:
    """DELETE …/tokens/{id}: revoked at once here, within SCIMHUB_TOKEN_RECHECK_SECONDS elsewhere."""
    _tenant, record = await _token(request)
    try:
        await tenant_ops.revoke_token(admin_runtime(request).store, record.id)
    except NotFound as exc:
        raise AdminError(404, str(exc)) from None
    return Response(status_code=204)


def tenant_routes(route: Any) -> list[Route]:
    """The routes, made by admin.py's ``_route`` (its method dispatch and 405s)."""
    tenant = "/tenants/{tenant}"
    return [
        route("/tenants", GET=list_tenants, POST=create_tenant),
        route(tenant, GET=get_tenant, DELETE=delete_tenant),
        route(f"{tenant}/tokens", GET=list_tokens, POST=issue_token),
        route(f"{tenant}/tokens/{{id}}", DELETE=revoke_token),
        route(f"{tenant}/tokens/{{id}}/rotate", POST=rotate_token),
    ]
