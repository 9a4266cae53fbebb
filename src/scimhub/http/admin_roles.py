"""Admin API routes of roles from groups (registered by ``admin.admin_app``).

``GET /tenants/{tenant}/roles``                  mode, default, version, rules, recompute progress
``POST /tenants/{tenant}/roles``                 add a rule: {"role", one of "group" | "groupId" |
                                                 "groupExternalId" | "scimRole", optional "priority"}
``DELETE /tenants/{tenant}/roles/{id}``          remove a rule
``GET|PUT /tenants/{tenant}/roles/settings``     {"mode": "all" | "highest", "default": role | null}
``GET /tenants/{tenant}/roles/recompute``        the recompute a change started: done, or how far

A change answers at once with the recompute it started (``finished: false``); the server runs it
a batch of users a transaction, and ``GET …/roles/recompute`` says when it has finished.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scimhub.errors import ScimError
from scimhub.http.admin import AdminError
from scimhub.http.admin import JSONResponse
from scimhub.http.admin import _json_body
from scimhub.http.admin import _route
from scimhub.http.admin import _rt
from scimhub.http.admin import _tenant
from scimhub.protocol.roles import RoleService
from scimhub.store.roles_sql import RoleStore
from scimhub.store.sql import SqlStore

# The body's name of each rule kind (the CLI's --group, --group-id, --group-external-id, --scim-role).
KINDS = {"group": "group", "groupId": "group_id", "groupExternalId": "group_external_id", "scimRole": "scim_role"}


def role_routes(tenant: str) -> list[Route]:
    roles = f"{tenant}/roles"
    return [
        _route(roles, GET=list_roles, POST=add_rule),
        _route(f"{roles}/settings", GET=get_settings, PUT=put_settings),
        _route(f"{roles}/recompute", GET=get_recompute),
        _route(f"{roles}/{{id}}", DELETE=remove_rule),
    ]


def _service(request: Request) -> RoleService:
    store = _rt(request).store
    if not isinstance(store, SqlStore):
        raise AdminError(404, "Roles need the SQL store.")
    return RoleService(store, RoleStore(store.db))


async def list_roles(request: Request) -> Response:
    tenant = await _tenant(request)
    return JSONResponse((await _service(request).overview(tenant.id)).to_json())


async def add_rule(request: Request) -> Response:
    tenant = await _tenant(request)
    body = await _json_body(request)
    named = [(KINDS[k], v) for k, v in body.items() if k in KINDS]
    unknown = sorted(set(body) - {*KINDS, "role", "priority"})
    role, priority = body.get("role"), body.get("priority", 0)
    if unknown or len(named) != 1 or not isinstance(role, str) or not isinstance(named[0][1], str):
        raise AdminError(
            400,
            'Send {"role": "<app role>", and one of "group" (a displayName), "groupId", "groupExternalId" '
            'or "scimRole", optional "priority": <integer>}' + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
        )
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise AdminError(400, f"priority must be an integer, got {priority!r}.")
    try:
        rule, job = await _service(request).map(tenant.id, role, named[0][0], named[0][1], priority)
    except ScimError as exc:
        raise AdminError(exc.status, exc.detail) from None
    return JSONResponse({"rule": rule.to_json(), "recompute": job.to_json()}, 201)


async def remove_rule(request: Request) -> Response:
    tenant = await _tenant(request)
    try:
        removed, job = await _service(request).unmap(tenant.id, rule_id=request.path_params["id"])
    except ScimError as exc:
        raise AdminError(exc.status, exc.detail) from None
    return JSONResponse({"removed": removed, "recompute": job.to_json()})


async def get_settings(request: Request) -> Response:
    tenant = await _tenant(request)
    overview = await _service(request).overview(tenant.id)
    return JSONResponse({"mode": overview.mode.value, "default": overview.default})


async def put_settings(request: Request) -> Response:
    tenant = await _tenant(request)
    body = await _json_body(request)
    unknown = sorted(set(body) - {"mode", "default"})
    mode, default = body.get("mode"), body.get("default")
    if unknown or not body or (mode is not None and not isinstance(mode, str)):
        raise AdminError(400, 'Send {"mode": "all" | "highest"} and/or {"default": "<role>" | null}.')
    if "default" in body and default is not None and not isinstance(default, str):
        raise AdminError(400, f"default must be a role name or null, got {default!r}.")
    service = _service(request)
    try:
        job = await service.configure(tenant.id, mode=mode, default=default, set_default="default" in body)
    except ScimError as exc:
        raise AdminError(exc.status, exc.detail) from None
    overview = await service.overview(tenant.id)
    return JSONResponse({"mode": overview.mode.value, "default": overview.default, "recompute": job.to_json()})


async def get_recompute(request: Request) -> Response:
    tenant = await _tenant(request)
    job = await _service(request).roles.job(tenant.id)
    return JSONResponse({"recompute": None if job is None else job.to_json()})
