"""The Settings tab's forms that change a tenant's role rules, role.mode / role.default and
attribute mapping: the same operations as ``scimhub role …``, ``scimhub attribute …`` and the
admin API (``protocol.roles``, ``protocol.attribute_map``), with their error texts.

A role change answers at once: it starts the recompute, which the server's runner does a batch of
users a transaction (as after the admin API's change); the Roles section shows how far it is.
Bad input re-renders the Settings tab with the error (400, or 404 for an unknown rule or name)
and changes nothing.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from scimhub.console.mappings import attribute_stores
from scimhub.console.mappings import role_service
from scimhub.console.session import Session
from scimhub.console.tenant_settings import settings_page
from scimhub.console.web import action
from scimhub.console.web import redirect
from scimhub.console.web import tenant_of
from scimhub.directory.attributes import MappingError
from scimhub.errors import ScimError
from scimhub.protocol import attribute_map


def _settings(request: Request, tenant_name: str, done: str) -> Response:
    return redirect(request, f"/t/{tenant_name}/settings", done=done)


async def _add_rule(request: Request, session: Session, form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    raw_priority = form.get("priority", "").strip() or "0"
    try:
        priority = int(raw_priority)
    except ValueError:
        error = f"priority must be an integer, got {raw_priority[:40]!r}."
        return await settings_page(request, session, tenant, error=error, status=400)
    role, kind, value = form.get("role", ""), form.get("kind", ""), form.get("value", "")
    try:
        await role_service(request).map(tenant.id, role, kind, value, priority)
    except ScimError as exc:
        return await settings_page(request, session, tenant, error=exc.detail, status=exc.status)
    return _settings(request, tenant.name, "role-mapped")


async def _remove_rule(request: Request, session: Session, form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    try:
        await role_service(request).unmap(tenant.id, rule_id=form.get("rule", ""))
    except ScimError as exc:
        return await settings_page(request, session, tenant, error=exc.detail, status=exc.status)
    return _settings(request, tenant.name, "role-unmapped")


async def _configure(request: Request, session: Session, form: dict[str, str]) -> Response:
    """role.mode and role.default in one change (an empty default: users no rule names get no role)."""
    tenant = await tenant_of(request)
    default = form.get("default", "").strip() or None
    try:
        await role_service(request).configure(tenant.id, mode=form.get("mode", ""), default=default, set_default=True)
    except ScimError as exc:
        return await settings_page(request, session, tenant, error=exc.detail, status=exc.status)
    return _settings(request, tenant.name, "roles-configured")


async def _map_attribute(request: Request, session: Session, form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    name, path = form.get("name", "").strip(), form.get("path", "").strip()
    try:
        await attribute_map.map_attribute(*attribute_stores(request), tenant.id, name, path)
    except MappingError as exc:
        return await settings_page(request, session, tenant, error=str(exc), status=400)
    return _settings(request, tenant.name, "attribute-mapped")


async def _unmap_attribute(request: Request, session: Session, form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    try:
        await attribute_map.unmap_attribute(*attribute_stores(request), tenant.id, form.get("name", ""))
    except MappingError as exc:
        return await settings_page(request, session, tenant, error=str(exc), status=400)
    except attribute_map.NotMapped as exc:
        return await settings_page(request, session, tenant, error=str(exc), status=404)
    return _settings(request, tenant.name, "attribute-unmapped")


def routes(tenant: str) -> list[BaseRoute]:
    return [
        Route(f"{tenant}/roles/rules", action(_add_rule), methods=["POST"]),
        Route(f"{tenant}/roles/rules/remove", action(_remove_rule), methods=["POST"]),
        Route(f"{tenant}/roles/settings", action(_configure), methods=["POST"]),
        Route(f"{tenant}/attributes", action(_map_attribute), methods=["POST"]),
        Route(f"{tenant}/attributes/unmap", action(_unmap_attribute), methods=["POST"]),
    ]
