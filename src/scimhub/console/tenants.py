"""The tenants page: search by name, cursor pages (by name), each tenant's state and counts; create."""

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
from scimhub.store.console_sql import ConsoleQueries
from scimhub.timestamps import utc_now

PAGE_SIZE = 50
MAX_SEARCH = 200


async def tenant_list(request: Request, session: Session, error: str | None = None, status: int = 200) -> Response:
    rt = runtime(request)
    query = request.query_params.get("q", "").strip()[:MAX_SEARCH]
    after = request.query_params.get("after", "")[:MAX_SEARCH]
    queries = ConsoleQueries(rt.admin.events.db)
    found = await queries.tenants_page(after, query, PAGE_SIZE)
    shown = found[:PAGE_SIZE]
    ids = [t.id for t in shown]
    counts = await queries.counts(ids)
    activity = ActivityStore(rt.admin.events.db)
    states = await activity.states(ids, utc_now(), rt.admin.health, rt.admin.events.holds)
    rows = [
        {
            "tenant": t,
            "state": states.get(t.id, SyncState.NEVER_CONNECTED).value,
            "users": counts.get(t.id, {}).get("User", 0),
            "groups": counts.get(t.id, {}).get("Group", 0),
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
