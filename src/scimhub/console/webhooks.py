"""The webhooks tab: add (the signing secret shown once), each webhook's deliveries (the
delivery log by cursor pages), dead letters and redelivery, removal."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from scimhub.console.session import Session
from scimhub.console.web import ConsoleError
from scimhub.console.web import action
from scimhub.console.web import no_store
from scimhub.console.web import page
from scimhub.console.web import redirect
from scimhub.console.web import render
from scimhub.console.web import runtime
from scimhub.console.web import tenant_of
from scimhub.events import webhooks as webhook_ops
from scimhub.store.base import Tenant
from scimhub.store.events_sql import Webhook

ATTEMPTS_PAGE = 50
DEAD_LETTERS_SHOWN = 100


async def webhooks_page(
    request: Request,
    session: Session,
    tenant: Tenant,
    *,
    created: Webhook | None = None,
    error: str | None = None,
    url: str = "",
    status: int = 200,
) -> Response:
    hooks = await runtime(request).admin.events.list_webhooks(tenant.id)
    response = render(
        request,
        "console/webhooks.html",
        session,
        status,
        tenant=tenant,
        tab="webhooks",
        hooks=hooks,
        created=created,
        error=error,
        url=url,
    )
    return no_store(response)


async def _webhooks(request: Request, session: Session) -> Response:
    return await webhooks_page(request, session, await tenant_of(request))


async def _add(request: Request, session: Session, form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    rt = runtime(request)
    url = form.get("url", "").strip()
    after = 0 if form.get("start") == "beginning" else None
    try:
        created = await webhook_ops.add_webhook(
            rt.admin.events, tenant.id, url, after, allow_private=rt.admin.webhook_allow_private
        )
    except ValueError as exc:
        return await webhooks_page(request, session, tenant, error=str(exc), url=url, status=400)
    return await webhooks_page(request, session, tenant, created=created, status=201)


async def _webhook_of(request: Request, tenant: Tenant) -> Webhook:
    found = await runtime(request).admin.events.get_webhook(request.path_params["id"], tenant.id)
    if found is None:
        raise ConsoleError(404, f"No webhook {request.path_params['id']} in tenant {tenant.name!r}.")
    return found


async def _webhook(request: Request, session: Session) -> Response:
    tenant = await tenant_of(request)
    hook = await _webhook_of(request, tenant)
    events = runtime(request).admin.events
    raw = request.query_params.get("after", "")
    if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise ConsoleError(400, f"after must be a delivery log id, not {raw!r}.")
    if raw:
        attempts = await events.attempts(hook.id, int(raw), ATTEMPTS_PAGE + 1)
        more = len(attempts) > ATTEMPTS_PAGE
        attempts = attempts[:ATTEMPTS_PAGE]
    else:
        attempts, more = await events.attempts(hook.id, limit=ATTEMPTS_PAGE, latest=True), False
    dead = await events.dead_letters(hook.id)
    return render(
        request,
        "console/webhook.html",
        session,
        tenant=tenant,
        tab="webhooks",
        hook=hook,
        attempts=attempts[::-1],
        next_after=attempts[-1].pk if more and attempts else None,
        paged=bool(raw),
        dead=dead[:DEAD_LETTERS_SHOWN],
        dead_total=len(dead),
    )


async def _redeliver(request: Request, _session: Session, _form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    hook = await _webhook_of(request, tenant)
    rt = runtime(request)
    await webhook_ops.redeliver(rt.admin.events, rt.admin.sender, hook, None)
    return redirect(request, f"/t/{tenant.name}/webhooks/{hook.id}", done="redelivered")


async def _remove(request: Request, _session: Session, _form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    hook = await _webhook_of(request, tenant)
    await runtime(request).admin.events.remove_webhook(hook.id)
    return redirect(request, f"/t/{tenant.name}/webhooks", done="webhook-removed")


def routes(tenant: str) -> list[BaseRoute]:
    hook = f"{tenant}/webhooks/{{id}}"
    return [
        Route(f"{tenant}/webhooks", page(_webhooks), methods=["GET"]),
        Route(f"{tenant}/webhooks", action(_add), methods=["POST"]),
        Route(hook, page(_webhook), methods=["GET"]),
        Route(f"{hook}/redeliver", action(_redeliver), methods=["POST"]),
        Route(f"{hook}/remove", action(_remove), methods=["POST"]),
    ]
