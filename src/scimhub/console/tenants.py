"""The tenants page: search by name prefix, cursor pages (by name: the admin API's TenantCatalog),
each tenant's sync state and counts; create."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from scimhub.console.session import Session
from scimhub.console.web import action
from scimhub.console.web import page
from scimhub.console.web import redirect
from scimhub.console.web import render
from scimhub.console.web import runtime
from scimhub.errors import Conflict
from scimhub.protocol import tenants as tenant_ops
from scimhub.safety.health import SyncState
from scimhub.store.activity_sql import ActivityStore
from scimhub.store.tenant_catalog_sql import TenantCatalog
from scimhub.store.tenant_catalog_sql import TenantCounts
from scimhub.timestamps import utc_now

PAGE_SIZE = 50
MAX_SEARCH = 200


async def tenant_list(request: Request, session: Session, error: str | None = None, status: int = 200) -> Response:
    rt = runtime(request)
    query = request.query_params.get("q", "").strip()[:MAX_SEARCH]
    after = request.query_params.get("after", "")[:MAX_SEARCH]
    catalog = TenantCatalog(rt.admin.events.db)
    found = await catalog.page(after or None, PAGE_SIZE + 1, query)
    shown = found[:PAGE_SIZE]
    ids = [t.id for t in shown]
    counts = await catalog.counts(ids, utc_now())
    activity = ActivityStore(rt.admin.events.db)
    states = await activity.states(ids, utc_now(), rt.admin.health, rt.admin.events.holds)
    rows = [
        {
            "tenant": t,
            "state": states.get(t.id, SyncState.NEVER_CONNECTED).value,
            "counts": counts.get(t.id, TenantCounts()),
        }
        for t in shown
    ]
    next_after = shown[-1].name if len(found) > PAGE_SIZE else None
    return render(
        request,
        "console/tenants.html",
        session,
        status,
        rows=rows,
        query=query,
        after=after,
        next_after=next_after,
        error=error,
        name_rule=tenant_ops.TENANT_NAME_RULE,
    )


async def _tenants(request: Request, session: Session) -> Response:
    return await tenant_list(request, session)


async def _create(request: Request, session: Session, form: dict[str, str]) -> Response:
    name = form.get("name", "").strip()
    try:
        created = await tenant_ops.create_tenant(runtime(request).service.store, name)
    except ValueError as exc:
        return await tenant_list(request, session, str(exc), 400)
    except Conflict as exc:
        return await tenant_list(request, session, exc.detail, 409)
    return redirect(request, f"/t/{created.name}/directory", done="created")


def routes() -> list[BaseRoute]:
    return [
        Route("/", page(_tenants), methods=["GET"]),
        Route("/tenants", action(_create), methods=["POST"]),
    ]
