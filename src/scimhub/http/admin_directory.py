"""Admin API routes of the directory (mounted by ``http.admin.admin_app``): what the host app reads.

GET    tenants/{tenant}/directory/users?group=&role=&state=&include=raw&limit=&cursor=
GET    tenants/{tenant}/directory/users/{id}?include=raw
GET    tenants/{tenant}/directory/groups?limit=&cursor=
GET    tenants/{tenant}/directory/groups/{id}/users?role=&state=&include=raw&limit=&cursor=
GET    tenants/{tenant}/attributes                → {"attributes": [{name, path, source, resolved}]}
PUT    tenants/{tenant}/attributes/{name}  {"path"} → the mapping (200)
DELETE tenants/{tenant}/attributes/{name}         → 204

Lists answer ``{"users" | "groups": [...], "next_cursor": …}``; ``next_cursor`` (null on the last
page) is a signed keyset (``protocol.cursor``) bound to the tenant and the filters.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scimhub.directory.attributes import USER
from scimhub.directory.attributes import AttributeMap
from scimhub.directory.attributes import MappingError
from scimhub.directory.user import STATES
from scimhub.directory.user import directory_user
from scimhub.errors import ScimError
from scimhub.events import feed
from scimhub.http.admin import AdminError
from scimhub.http.admin import JSONResponse
from scimhub.http.admin import _route
from scimhub.http.admin import admin_runtime
from scimhub.http.admin import int_param
from scimhub.http.admin import json_body
from scimhub.http.admin import path_tenant
from scimhub.protocol import attribute_map
from scimhub.protocol.cursor import CursorCodec
from scimhub.protocol.cursor import query_fingerprint
from scimhub.protocol.render import render
from scimhub.schema.model import JsonDoc
from scimhub.schema.registry import SchemaRegistry
from scimhub.store.attributes_sql import AttributeStore
from scimhub.store.base import Keyset
from scimhub.store.base import MemberRef
from scimhub.store.base import StoredResource
from scimhub.store.base import Tenant
from scimhub.store.database import Database
from scimhub.store.directory_sql import DirectoryStore
from scimhub.store.directory_sql import UserFilter
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.store.sql import SqlStore

SCIM_PREFIX = "/scim/v2"  # as app.SCIM_PREFIX (not imported: app imports this layer)
_RAW = "raw"


def _db(request: Request) -> Database:
    store = admin_runtime(request).store
    assert isinstance(store, SqlStore)  # the admin API exists only on the SQL store
    return store.db


async def _codec(request: Request) -> CursorCodec:
    """The SCIM API's cursor key (in the database: every instance accepts every cursor)."""
    state = request.app.state
    codec: CursorCodec | None = getattr(state, "directory_codec", None)
    if codec is None:
        store = admin_runtime(request).store
        assert isinstance(store, SqlStore)
        codec = state.directory_codec = CursorCodec(await store.server_secret("cursor"))
    return codec


def _scim_root(request: Request) -> str:
    configured = admin_runtime(request).base_url
    if configured:
        return configured.rstrip("/")
    url = str(request.url)
    return url[: url.rindex("/admin/v1")] + SCIM_PREFIX


def _raw(request: Request) -> bool:
    include = request.query_params.get("include")
    if include is not None and include != _RAW:
        raise AdminError(400, f"include takes {_RAW!r} (the SCIM resource), not {include!r}.")
    return include == _RAW


def _state(request: Request) -> str | None:
    state = request.query_params.get("state")
    if state is not None and state not in STATES:
        raise AdminError(400, f"state takes {' or '.join(STATES)}, not {state!r}.")
    return state


async def _role(request: Request, directory: DirectoryStore, tenant: Tenant) -> str | None:
    role = request.query_params.get("role")
    if role is not None and not await directory.role_known(tenant.id, role):
        raise AdminError(400, f"No role {role!r} in tenant {tenant.name!r} (see `scimhub role list`).")
    return role


async def _after(request: Request, fingerprint: str) -> int:
    token = request.query_params.get("cursor")
    if token is None:
        return 0
    try:
        return (await _codec(request)).decode(token, fingerprint, 0).pk
    except ScimError as exc:
        raise AdminError(400, f"Bad cursor: {exc.detail}") from None


async def _next_cursor(request: Request, fingerprint: str, pk: int | None) -> str | None:
    return None if pk is None else (await _codec(request)).encode(fingerprint, 0, Keyset(None, pk, False))


async def _tenant_view(request: Request, tenant: Tenant) -> tuple[SchemaRegistry, AttributeMap]:
    schemas = TenantSchemaStore(_db(request))
    registry = await attribute_map.registry_of(schemas, tenant.id)
    mapping = await attribute_map.tenant_mapping(AttributeStore(_db(request)), schemas, tenant.id)
    return registry, mapping


async def _users_json(request: Request, tenant: Tenant, page: list[StoredResource], raw: bool) -> list[JsonDoc]:
    """The directory users of a page: its groups and roles read by the page's pks, once each."""
    directory = DirectoryStore(_db(request))
    registry, mapping = await _tenant_view(request, tenant)
    pks = [s.pk for s in page if s.pk is not None]
    groups, roles = await directory.groups_of(pks), await directory.roles_of(tenant.id, pks)
    rtype, root = registry.resource_type(USER), _scim_root(request)
    out = []
    for stored in page:
        mine = groups.get(stored.pk or 0, [])
        related = [MemberRef(g.id, "direct", g.display_name) for g in mine]
        resource = render(stored, rtype, registry, root, related)
        out.append(directory_user(resource, mapping, mine, roles.get(stored.pk or 0, []), raw=raw))
    return out


async def _user_page(request: Request, tenant: Tenant, group_id: str | None, group_pk: int | None) -> Response:
    directory = DirectoryStore(_db(request))
    raw, state = _raw(request), _state(request)
    role = await _role(request, directory, tenant)
    limit = feed.clamp_limit(int_param(request, "limit"))
    fingerprint = query_fingerprint(tenant.id, "directory.users", group_id, role, state)
    after = await _after(request, fingerprint)
    page = await directory.users(tenant.id, after, limit + 1, UserFilter(group_pk, role, state))
    last = page[limit - 1].pk if len(page) > limit else None
    users = await _users_json(request, tenant, page[:limit], raw)
    return JSONResponse({"users": users, "next_cursor": await _next_cursor(request, fingerprint, last)})


async def list_users(request: Request) -> Response:
    tenant = await path_tenant(request)
    group_id = request.query_params.get("group")
    group_pk = None
    if group_id is not None:
        group_pk = await DirectoryStore(_db(request)).group_pk(tenant.id, group_id)
        if group_pk is None:
            raise AdminError(400, f"No group {group_id!r} in tenant {tenant.name!r}.")
    return await _user_page(request, tenant, group_id, group_pk)


async def group_users(request: Request) -> Response:
    tenant = await path_tenant(request)
    group_id = request.path_params["id"]
    if "group" in request.query_params:
        raise AdminError(400, "The group is the one in the path; drop the group parameter.")
    group_pk = await DirectoryStore(_db(request)).group_pk(tenant.id, group_id)
    if group_pk is None:
        raise AdminError(404, f"No group {group_id!r} in tenant {tenant.name!r}.")
    return await _user_page(request, tenant, group_id, group_pk)


async def get_user(request: Request) -> Response:
    tenant = await path_tenant(request)
    raw = _raw(request)
    stored = await admin_runtime(request).store.get(tenant.id, USER, request.path_params["id"])
    if stored is None:
        raise AdminError(404, f"No user {request.path_params['id']!r} in tenant {tenant.name!r}.")
    (user,) = await _users_json(request, tenant, [stored], raw)
    return JSONResponse(user)


async def list_groups(request: Request) -> Response:
    tenant = await path_tenant(request)
    limit = feed.clamp_limit(int_param(request, "limit"))
    fingerprint = query_fingerprint(tenant.id, "directory.groups")
    after = await _after(request, fingerprint)
    page = await DirectoryStore(_db(request)).groups(tenant.id, after, limit + 1)
    last = page[limit - 1].pk if len(page) > limit else None
    groups = [g.to_json() for g in page[:limit]]
    return JSONResponse({"groups": groups, "next_cursor": await _next_cursor(request, fingerprint, last)})


# -- the attribute mapping (the same operations as `scimhub attribute`) -----------------------
def _stores(request: Request) -> tuple[AttributeStore, TenantSchemaStore]:
    db = _db(request)
    return AttributeStore(db), TenantSchemaStore(db)


async def list_attributes(request: Request) -> Response:
    tenant = await path_tenant(request)
    mapping = await attribute_map.tenant_mapping(*_stores(request), tenant.id)
    return JSONResponse({"attributes": [m.to_json() for m in mapping.listing()]})


async def map_attribute(request: Request) -> Response:
    """PUT {"path": "urn:…:attr"}: map the name (servers' events use it within 10 s)."""
    tenant = await path_tenant(request)
    path = (await json_body(request)).get("path")
    if not isinstance(path, str):
        raise AdminError(400, 'Send {"path": "<SCIM attribute path of a User>"}.')
    try:
        mapped = await attribute_map.map_attribute(*_stores(request), tenant.id, request.path_params["name"], path)
    except MappingError as exc:
        raise AdminError(400, str(exc)) from None
    return JSONResponse(mapped.to_json())


async def unmap_attribute(request: Request) -> Response:
    tenant = await path_tenant(request)
    try:
        await attribute_map.unmap_attribute(*_stores(request), tenant.id, request.path_params["name"])
    except MappingError as exc:
        raise AdminError(400, str(exc)) from None
    except attribute_map.NotMapped as exc:
        raise AdminError(404, str(exc)) from None
    return Response(status_code=204)


def directory_routes(tenant: str) -> list[Route]:
    directory = f"{tenant}/directory"
    return [
        _route(f"{directory}/users", GET=list_users),
        _route(f"{directory}/users/{{id}}", GET=get_user),
        _route(f"{directory}/groups", GET=list_groups),
        _route(f"{directory}/groups/{{id}}/users", GET=group_users),
        _route(f"{tenant}/attributes", GET=list_attributes),
        _route(f"{tenant}/attributes/{{name}}", PUT=map_attribute, DELETE=unmap_attribute),
    ]
