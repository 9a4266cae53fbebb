"""The requests tab (the request log: failed only, the redacted bodies, the error the IdP got)
and the events tab (the feed by cursor pages, live: ``events.json`` feeds console.js)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from scimhub.console.format import event_summary
from scimhub.console.format import resource_ref
from scimhub.console.session import Session
from scimhub.console.web import ConsoleError
from scimhub.console.web import page
from scimhub.console.web import render
from scimhub.console.web import runtime
from scimhub.console.web import tenant_of
from scimhub.events import feed
from scimhub.events.model import Event
from scimhub.store.console_sql import ConsoleQueries

REQUESTS_SHOWN = 100
EVENTS_PAGE = 50


async def _requests(request: Request, session: Session) -> Response:
    tenant = await tenant_of(request)
    failed = request.query_params.get("failed") == "1"
    buffer = runtime(request).admin.request_log
    entries: list[dict[str, Any]] = []
    if buffer is not None:
        await buffer.flush()
        entries = await buffer.store.recent(tenant.id, REQUESTS_SHOWN, failed)
    return render(
        request,
        "console/requests.html",
        session,
        tenant=tenant,
        tab="requests",
        entries=entries,
        failed=failed,
        enabled=buffer is not None,
    )


def _after(request: Request) -> int | None:
    raw = request.query_params.get("after")
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ConsoleError(400, f"after must be a sequence number, not {raw!r}.")
    return int(raw)


def _event_row(event: Event) -> dict[str, Any]:
    payload = event.payload
    return {
        "seq": event.seq,
        "type": event.type,
        "resource": resource_ref(payload),
        "resourceType": payload.get("resourceType", ""),
        "resourceId": payload.get("resourceId", ""),
        "summary": event_summary(payload),
        "at": str(payload.get("occurredAt", "")).replace("T", " ").removesuffix("Z").split(".")[0],
    }


async def _events(request: Request, session: Session) -> Response:
    """Newest page first by default (``after`` = last seq - page); ``after`` walks forward."""
    tenant = await tenant_of(request)
    rt = runtime(request)
    last = await ConsoleQueries(rt.admin.events.db).last_seq(tenant.id)
    requested = _after(request)
    after = max(0, last - EVENTS_PAGE) if requested is None else requested
    try:
        page_ = await feed.read_feed(rt.admin.events, tenant.id, after, EVENTS_PAGE)
    except feed.CursorExpired as exc:
        page_ = await feed.read_feed(rt.admin.events, tenant.id, exc.oldest - 1, EVENTS_PAGE)
    rows = [_event_row(e) for e in reversed(page_.events)]
    return render(
        request,
        "console/events.html",
        session,
        tenant=tenant,
        tab="events",
        rows=rows,
        after=after,
        next_after=page_.next_after,
        newer=page_.next_after < last,
        older=max(0, after - EVENTS_PAGE) if after > 0 else None,
        live=requested is None,
        held=page_.held,
    )


async def _events_json(request: Request, _session: Session) -> Response:
    """What the live list polls: events after ``after`` (at most a page), newest last."""
    tenant = await tenant_of(request)
    after = _after(request) or 0
    try:
        page_ = await feed.read_feed(runtime(request).admin.events, tenant.id, after, EVENTS_PAGE)
    except feed.CursorExpired as exc:
        raise ConsoleError(410, str(exc)) from None
    return JSONResponse({"events": [_event_row(e) for e in page_.events], "next_after": page_.next_after})


def routes(tenant: str) -> list[BaseRoute]:
    return [
        Route(f"{tenant}/requests", page(_requests), methods=["GET"]),
        Route(f"{tenant}/events", page(_events), methods=["GET"]),
        Route(f"{tenant}/events.json", page(_events_json), methods=["GET"]),
    ]
