"""The tenant's directory: Users and Groups through the SCIM search machinery (a SCIM filter box,
RFC 9865 cursor pages), a user's attributes, groups, roles and directory user (the directory
API's normalized shape, ``console.mappings``), events and audit entries, and a group's members (a
cursor-paged ``groups.value eq`` search: a huge group is never loaded)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from scimhub.console.mappings import directory_view
from scimhub.console.mappings import mapped_fields
from scimhub.console.session import Session
from scimhub.console.web import ConsoleError
from scimhub.console.web import page
from scimhub.console.web import render
from scimhub.console.web import runtime
from scimhub.console.web import tenant_of
from scimhub.errors import NotFound
from scimhub.errors import ScimError
from scimhub.protocol.context import Principal
from scimhub.protocol.context import RequestContext
from scimhub.protocol.cursor import CursorCodec
from scimhub.protocol.search import Searcher
from scimhub.protocol.search import SearchParams
from scimhub.schema.model import JsonDoc
from scimhub.schema.project import parse_projection
from scimhub.store.base import Tenant
from scimhub.store.console_sql import HISTORY_WINDOW
from scimhub.store.console_sql import ConsoleQueries

PAGE_SIZE = 50
MAX_FILTER = 2000
CONSOLE_PRINCIPAL = "console"  # the token id the console's reads are made under (nothing is written)
# What a directory page shows of each resource (never a group's members: they can be 100k).
LIST_ATTRIBUTES = {"User": "userName,displayName,name,emails,active,externalId", "Group": "displayName,externalId"}
KINDS = {"users": "User", "groups": "Group"}


async def _context(request: Request, tenant: Tenant) -> RequestContext:
    rt = runtime(request)
    config = await rt.configs.get(tenant.id)
    base = rt.settings.base_url or f"{str(request.base_url).rstrip('/').removesuffix('/console')}/scim/v2"
    return RequestContext(
        Principal(tenant.id, CONSOLE_PRINCIPAL),
        base.rstrip("/"),
        config.policy,
        rt.settings.limits,
        "GET",
        request.url.path,
        config.guard,
        config.registry,
    )


async def _searcher(request: Request, ctx: RequestContext) -> Searcher:
    rt = runtime(request)
    if rt.cursor_codec is None:  # the SCIM API's key: the same cursors, signed the same way
        rt.cursor_codec = CursorCodec(await rt.service.store.server_secret("cursor"))
    return Searcher(rt.service, ctx, rt.cursor_codec, rt.settings.max_results)


async def search(request: Request, tenant: Tenant, kind: str, text: str | None, cursor: str) -> JsonDoc:
    """One cursor page of ``kind`` matching the SCIM filter ``text`` (ScimError on a bad one)."""
    ctx = await _context(request, tenant)
    rtype = ctx.registry.resource_type(kind)
    params = SearchParams(filter=text or None, count=PAGE_SIZE, cursor=cursor, attributes=LIST_ATTRIBUTES[kind])
    return await (await _searcher(request, ctx)).search(rtype, params)


def _primary_email(doc: JsonDoc) -> str:
    emails = [e for e in doc.get("emails", []) if isinstance(e, dict)]
    chosen = next((e for e in emails if e.get("primary") is True), emails[0] if emails else {})
    return str(chosen.get("value", ""))


def _row(doc: JsonDoc) -> dict[str, Any]:
    name = doc.get("name") if isinstance(doc.get("name"), dict) else {}
    assert isinstance(name, dict)
    display = (
        doc.get("displayName")
        or name.get("formatted")
        or " ".join(str(name[k]) for k in ("givenName", "familyName") if name.get(k))
    )
    return {
        "id": doc.get("id", ""),
        "userName": doc.get("userName", ""),
        "displayName": display,
        "email": _primary_email(doc),
        "active": doc.get("active"),
        "externalId": doc.get("externalId", ""),
    }


async def _directory(request: Request, session: Session) -> Response:
    tenant = await tenant_of(request)
    kind_key = request.query_params.get("kind", "users")
    kind = KINDS.get(kind_key, "User")
    text = request.query_params.get("filter", "").strip()
    cursor = request.query_params.get("cursor", "")
    error, status, result = None, 200, None
    if len(text) > MAX_FILTER:
        error, status = f"The filter is longer than {MAX_FILTER} characters.", 400
    else:
        try:
            result = await search(request, tenant, kind, text, cursor)
        except ScimError as exc:
            error, status = f"{exc.detail}", exc.status
    rows = [_row(doc) for doc in result["Resources"]] if result else []
    return render(
        request,
        "console/directory.html",
        session,
        status,
        tenant=tenant,
        tab="directory",
        kind=kind,
        kind_key="groups" if kind == "Group" else "users",
        filter=text,
        rows=rows,
        total=result["totalResults"] if result else None,
        next_cursor=result.get("nextCursor") if result else None,
        previous_cursor=result.get("previousCursor") if result else None,
        error=error,
    )


def _pretty(doc: JsonDoc) -> str:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()


async def _resource(
    request: Request, tenant: Tenant, kind: str, excluded: str | None
) -> tuple[RequestContext, JsonDoc]:
    ctx = await _context(request, tenant)
    rtype = ctx.registry.resource_type(kind)
    common = runtime(request).service.registry.common
    projection = parse_projection(rtype, common, None, excluded)
    try:
        found = await runtime(request).service.get(ctx, rtype, request.path_params["id"], projection)
    except NotFound:
        raise ConsoleError(404, f"No {kind} {request.path_params['id']} in tenant {tenant.name!r}.") from None
    return ctx, found.doc


async def _user(request: Request, session: Session) -> Response:
    tenant = await tenant_of(request)
    _ctx, doc = await _resource(request, tenant, "User", None)
    rt = runtime(request)
    queries = ConsoleQueries(rt.admin.events.db)
    directory_user = await directory_view(request, tenant, doc)
    return render(
        request,
        "console/user.html",
        session,
        tenant=tenant,
        tab="directory",
        user=_row(doc),
        doc=doc,
        raw=_pretty(doc),
        groups=[g for g in doc.get("groups", []) if isinstance(g, dict)],
        roles=directory_user["roles"],
        directory_user=directory_user,
        mapped=mapped_fields(directory_user),
        directory_json=_pretty(directory_user),
        events=await queries.events_of(tenant.id, doc["id"]),
        audit=await queries.audit_of(tenant.id, doc["id"]),
        window=HISTORY_WINDOW,
    )


async def _group(request: Request, session: Session) -> Response:
    tenant = await tenant_of(request)
    _ctx, doc = await _resource(request, tenant, "Group", "members")
    cursor = request.query_params.get("cursor", "")
    members_filter = f"groups.value eq {orjson.dumps(doc['id']).decode()}"
    try:
        members = await search(request, tenant, "User", members_filter, cursor)
    except ScimError as exc:
        raise ConsoleError(exc.status, exc.detail) from None
    return render(
        request,
        "console/group.html",
        session,
        tenant=tenant,
        tab="directory",
        group=doc,
        raw=_pretty(doc),
        members=[_row(m) for m in members["Resources"]],
        total=members["totalResults"],
        next_cursor=members.get("nextCursor"),
        previous_cursor=members.get("previousCursor"),
    )


def routes(tenant: str) -> list[BaseRoute]:
    return [
        Route(f"{tenant}/directory", page(_directory), methods=["GET"]),
        Route(f"{tenant}/users/{{id}}", page(_user), methods=["GET"]),
        Route(f"{tenant}/groups/{{id}}", page(_group), methods=["GET"]),
    ]
