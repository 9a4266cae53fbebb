"""Admin API routes of the safety rails: the hold of a tenant's event stream (and sync health).

GET  tenants/{tenant}/held     → {"held": hold or null, "events": [held events, in seq order]}
POST tenants/{tenant}/release  → {"released": the hold lifted, or null}
POST tenants/{tenant}/pause    → {"held": hold, "new": whether this call set it}; body {"reason": …}
POST tenants/{tenant}/resume   → {"resumed": the pause lifted, or null}; 409 while the guard holds
GET  tenants/{tenant}/status   → the tenant's sync health (scimhub.safety.health.status_json)
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from scimhub.http.admin import AdminError
from scimhub.http.admin import JSONResponse
from scimhub.http.admin import admin_runtime
from scimhub.http.admin import int_param
from scimhub.http.admin import json_body
from scimhub.http.admin import path_tenant
from scimhub.safety.health import status_json
from scimhub.safety.hold import HoldKind
from scimhub.store.activity_sql import ActivityStore
from scimhub.timestamps import utc_now

MAX_REASON = 500


async def read_held(request: Request) -> Response:
    tenant = await path_tenant(request)
    holds = admin_runtime(request).events.holds
    hold = await holds.hold(tenant.id)
    limit = int_param(request, "limit", 1000) or 1000
    held = await holds.held_events(tenant.id, limit) if hold is not None else []
    return JSONResponse({"held": None if hold is None else hold.to_json(), "events": [h.to_json() for h in held]})


async def release(request: Request) -> Response:
    tenant = await path_tenant(request)
    rt = admin_runtime(request)
    lifted = await rt.events.holds.release(tenant.id, utc_now())
    if lifted is not None and rt.wake is not None:
        rt.wake()  # this process delivers at once; the others within their poll interval
    return JSONResponse({"released": None if lifted is None else lifted.to_json()})


async def pause(request: Request) -> Response:
    tenant = await path_tenant(request)
    reason = (await json_body(request)).get("reason", "paused by an operator")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise AdminError(400, f"reason must be a non-empty string of at most {MAX_REASON} characters.")
    hold, new = await admin_runtime(request).events.holds.pause(tenant.id, utc_now(), reason)
    return JSONResponse({"held": hold.to_json(), "new": new})


async def resume(request: Request) -> Response:
    tenant = await path_tenant(request)
    rt = admin_runtime(request)
    lifted = await rt.events.holds.release(tenant.id, utc_now(), HoldKind.PAUSE)
    if lifted is None:
        hold = await rt.events.holds.hold(tenant.id)
        if hold is not None:  # the guard's hold: lifted by release, after review
            raise AdminError(
                409,
                f"The stream is held by the deprovisioning guard ({hold.reason}); review "
                f"GET …/held, then POST …/release.",
            )
    elif rt.wake is not None:
        rt.wake()
    return JSONResponse({"resumed": None if lifted is None else lifted.to_json()})


async def read_status(request: Request) -> Response:
    tenant = await path_tenant(request)
    rt = admin_runtime(request)
    if rt.activity is not None:
        await rt.activity.flush()  # this instance's last second of traffic counts too
    now = utc_now()
    facts = await ActivityStore(rt.events.db).facts(tenant, now, rt.events)
    return JSONResponse(status_json(facts, now, rt.health))
