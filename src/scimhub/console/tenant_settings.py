"""The tenant's settings tab: sync state and the event-stream hold (pause, resume, release),
policy switches, rate limit, guard and inactive-user settings (``scimhub tenant set``'s keys,
checked by the same ``check_setting``), the declared extension schemas, and the role and attribute
mappings (``MAPPINGS``: read by ``console.mappings``, changed by ``console.mapping_forms``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from scimhub.console import mappings
from scimhub.console.session import Session
from scimhub.console.web import action
from scimhub.console.web import page
from scimhub.console.web import redirect
from scimhub.console.web import render
from scimhub.console.web import runtime
from scimhub.console.web import tenant_of
from scimhub.protocol import tenant_schemas as schema_ops
from scimhub.protocol.tenant_config import POLICY_PREFIX
from scimhub.protocol.tenant_config import RATE_LIMIT_KEY
from scimhub.protocol.tenant_config import check_setting
from scimhub.protocol.tenant_config import setting_keys
from scimhub.safety import guard
from scimhub.safety import inactive
from scimhub.safety.health import SyncState
from scimhub.safety.hold import HoldKind
from scimhub.store.activity_sql import ActivityStore
from scimhub.store.base import Tenant
from scimhub.timestamps import utc_now

MAX_VALUE = 200
MAX_REASON = 500
# (title, the template that renders it) of the mapping sections: roles, then attributes.
MAPPINGS: list[tuple[str, str]] = mappings.SECTIONS


def _default(request: Request, key: str) -> str:
    settings = runtime(request).settings
    if key.startswith(POLICY_PREFIX):
        return "on" if getattr(settings.policy, key.removeprefix(POLICY_PREFIX)) else "off"
    if key == RATE_LIMIT_KEY:
        return settings.rate_limit or "off"
    if key == guard.THRESHOLD_KEY:
        return settings.guard_deprovision_threshold or "off"
    if key == guard.WINDOW_KEY:
        return guard.format_window(settings.guard_window_seconds)
    return inactive.KEEP if key == inactive.KEY else "server default"


async def settings_page(
    request: Request, session: Session, tenant: Tenant, *, error: str | None = None, status: int = 200
) -> Response:
    rt = runtime(request)
    values = await rt.service.store.tenant_settings(tenant.id)
    rows: list[dict[str, Any]] = [
        {
            "key": key,
            "value": values.get(key),
            "default": _default(request, key),
            "switch": key.startswith(POLICY_PREFIX),
        }
        for key in setting_keys()
    ]
    states = await ActivityStore(rt.admin.events.db).states(
        [tenant.id], utc_now(), rt.admin.health, rt.admin.events.holds
    )
    declared = await rt.service.store.declared_schemas(tenant.id)
    return render(
        request,
        "console/settings.html",
        session,
        status,
        tenant=tenant,
        tab="settings",
        rows=rows,
        state=states.get(tenant.id, SyncState.NEVER_CONNECTED).value,
        hold=await rt.admin.events.holds.hold(tenant.id),
        schemas=[schema_ops.summary(d) for d in declared],
        mappings=MAPPINGS,
        error=error,
        **await mappings.sections(request, tenant),
    )


async def _settings(request: Request, session: Session) -> Response:
    return await settings_page(request, session, await tenant_of(request))


async def _save(request: Request, session: Session, form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    key, value = form.get("key", ""), form.get("value", "").strip()[:MAX_VALUE]
    if key not in setting_keys():
        return await settings_page(request, session, tenant, error=f"Unknown setting {key!r}.", status=400)
    try:
        normalised = None if value in ("", "default") else check_setting(key, value)
    except ValueError as exc:
        return await settings_page(request, session, tenant, error=str(exc), status=400)
    await runtime(request).service.store.set_tenant_setting(tenant.id, key, normalised)
    return redirect(request, f"/t/{tenant.name}/settings", done="saved")


async def _pause(request: Request, session: Session, form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    reason = form.get("reason", "").strip() or "paused in the console"
    if len(reason) > MAX_REASON:
        return await settings_page(request, session, tenant, error="The reason is too long.", status=400)
    await runtime(request).admin.events.holds.pause(tenant.id, utc_now(), reason)
    return redirect(request, f"/t/{tenant.name}/settings", done="paused")


async def _release(request: Request, session: Session, form: dict[str, str]) -> Response:
    """Lifts the hold, whichever it is (the guard's after review, or a pause)."""
    tenant = await tenant_of(request)
    rt = runtime(request)
    kind = HoldKind.PAUSE if form.get("kind") == "pause" else None
    lifted = await rt.admin.events.holds.release(tenant.id, utc_now(), kind)
    if lifted is not None and rt.admin.wake is not None:
        rt.admin.wake()
    return redirect(request, f"/t/{tenant.name}/settings", done="resumed" if kind else "released")


def routes(tenant: str) -> list[BaseRoute]:
    return [
        Route(f"{tenant}/settings", page(_settings), methods=["GET"]),
        Route(f"{tenant}/settings", action(_save), methods=["POST"]),
        Route(f"{tenant}/pause", action(_pause), methods=["POST"]),
        Route(f"{tenant}/release", action(_release), methods=["POST"]),
    ]
