"""The tokens tab: issue (the secret shown once, in a read-only field), rotate with overlap,
revoke; expiry and last use of each."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

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
from scimhub.errors import NotFound
from scimhub.protocol import tenants as tenant_ops
from scimhub.store.base import Tenant
from scimhub.store.base import TokenRecord

MAX_DAYS = 3650
MAX_OVERLAP_HOURS = 24 * 90


def _state(token: TokenRecord, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and datetime.fromisoformat(token.expires_at) <= now:
        return "expired"
    return "active"


async def tokens_page(
    request: Request,
    session: Session,
    tenant: Tenant,
    *,
    secret: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    records = await runtime(request).service.store.list_tokens(tenant.id)
    now = datetime.now(UTC)
    rows = [{"token": t, "state": _state(t, now)} for t in sorted(records, key=lambda t: t.created_at, reverse=True)]
    response = render(
        request,
        "console/tokens.html",
        session,
        status,
        tenant=tenant,
        tab="tokens",
        rows=rows,
        secret=secret,
        error=error,
    )
    return no_store(response)


async def _tokens(request: Request, session: Session) -> Response:
    return await tokens_page(request, session, await tenant_of(request))


def _number(raw: str, label: str, limit: int, *, integer: bool) -> float | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise ValueError(f"{label} must be a {'whole ' if integer else ''}number, not {raw!r}.") from None
    if not 0 < value <= limit:
        raise ValueError(f"{label} must be between 1 and {limit}.")
    return value


async def _issue(request: Request, session: Session, form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    rt = runtime(request)
    try:
        days = _number(form.get("expires_in_days", ""), "Expiry (days)", MAX_DAYS, integer=True)
    except ValueError as exc:
        return await tokens_page(request, session, tenant, error=str(exc), status=400)
    _record, secret = await tenant_ops.issue_token(
        rt.service.store, tenant, rt.settings.token_pepper, None if days is None else int(days)
    )
    return await tokens_page(request, session, tenant, secret=secret, status=201)


async def _token_of(request: Request, tenant: Tenant) -> TokenRecord:
    found = await runtime(request).service.store.token_by_id(request.path_params["id"])
    if found is None or found.tenant_id != tenant.id:
        raise ConsoleError(404, f"No token {request.path_params['id']} in tenant {tenant.name!r}.")
    return found


async def _rotate(request: Request, session: Session, form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    token = await _token_of(request, tenant)
    rt = runtime(request)
    try:
        hours = _number(form.get("overlap_hours", ""), "Overlap (hours)", MAX_OVERLAP_HOURS, integer=False)
        _record, secret = await tenant_ops.rotate_token(
            rt.service.store, token.id, 24.0 if hours is None else hours, rt.settings.token_pepper
        )
    except ValueError as exc:
        return await tokens_page(request, session, tenant, error=str(exc), status=400)
    except NotFound as exc:
        return await tokens_page(request, session, tenant, error=exc.detail, status=409)
    return await tokens_page(request, session, tenant, secret=secret, status=201)


async def _revoke(request: Request, _session: Session, _form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    token = await _token_of(request, tenant)
    try:
        await tenant_ops.revoke_token(runtime(request).service.store, token.id)
    except NotFound:
        pass  # already revoked: the page shows it
    return redirect(request, f"/t/{tenant.name}/tokens", done="revoked")


def routes(tenant: str) -> list[BaseRoute]:
    return [
        Route(f"{tenant}/tokens", page(_tokens), methods=["GET"]),
        Route(f"{tenant}/tokens", action(_issue), methods=["POST"]),
        Route(f"{tenant}/tokens/{{id}}/rotate", action(_rotate), methods=["POST"]),
        Route(f"{tenant}/tokens/{{id}}/revoke", action(_revoke), methods=["POST"]),
    ]
