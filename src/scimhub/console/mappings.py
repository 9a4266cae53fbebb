"""What the console reads of a tenant's role and attribute mappings: the Settings tab's "Roles"
and "Attribute mapping" sections, and a user's page's directory user and roles.

Everything goes through the layers the CLI and the admin API use: ``protocol.roles``'
``RoleService`` (rules, role.mode, role.default, the recompute's progress),
``protocol.attribute_map`` (the effective mapping) and ``directory.user.directory_user`` over
``store.directory_sql``'s reads (the directory API's normalized user). The forms that change them
are ``console.mapping_forms``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from scimhub.console.web import ConsoleError
from scimhub.console.web import runtime
from scimhub.directory.attributes import RESERVED
from scimhub.directory.attributes import AttributeMap
from scimhub.directory.roles import RuleKind
from scimhub.directory.user import directory_user
from scimhub.protocol import attribute_map
from scimhub.protocol.roles import RoleService
from scimhub.schema.model import JsonDoc
from scimhub.store.attributes_sql import AttributeStore
from scimhub.store.base import Tenant
from scimhub.store.database import Database
from scimhub.store.directory_sql import DirectoryStore
from scimhub.store.roles_sql import RoleStore
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.store.sql import SqlStore

# The Settings tab's mapping sections: (title, the template that renders it).
SECTIONS: list[tuple[str, str]] = [("Roles", "console/_roles.html"), ("Attribute mapping", "console/_attributes.html")]
# What the rule form offers for each kind (the CLI's --group, --group-id, --group-external-id, --scim-role).
KIND_LABELS = {
    RuleKind.GROUP.value: "group name",
    RuleKind.GROUP_ID.value: "group id",
    RuleKind.GROUP_EXTERNAL_ID.value: "group externalId",
    RuleKind.SCIM_ROLE.value: "SCIM role value",
}


def _db(request: Request) -> Database:
    db: Database = runtime(request).admin.events.db
    return db


def role_service(request: Request) -> RoleService:
    store = runtime(request).service.store
    if not isinstance(store, SqlStore):  # the console exists only on the SQL store
        raise ConsoleError(404, "Roles need the SQL store.")
    return RoleService(store, RoleStore(store.db))


def attribute_stores(request: Request) -> tuple[AttributeStore, TenantSchemaStore]:
    db = _db(request)
    return AttributeStore(db), TenantSchemaStore(db)


async def sections(request: Request, tenant: Tenant) -> dict[str, Any]:
    """The Settings tab's context of the two sections."""
    overview = await role_service(request).overview(tenant.id)
    mapping = await attribute_map.tenant_mapping(*attribute_stores(request), tenant.id)
    return {"roles": overview, "kinds": KIND_LABELS, "attributes": mapping.listing()}


async def directory_view(request: Request, tenant: Tenant, resource: JsonDoc) -> JsonDoc:
    """The directory user of ``resource`` (a User as a SCIM GET renders it), as the directory API
    gives it: the tenant's mapped attributes, groups and roles (read by the user's pk)."""
    stored = await runtime(request).service.store.get(tenant.id, "User", str(resource["id"]))
    pk = stored.pk if stored is not None and stored.pk is not None else None
    directory = DirectoryStore(_db(request))
    groups = await directory.groups_of([pk]) if pk is not None else {}
    roles = await directory.roles_of(tenant.id, [pk]) if pk is not None else {}
    mapping: AttributeMap = await attribute_map.tenant_mapping(*attribute_stores(request), tenant.id)
    return directory_user(resource, mapping, groups.get(pk or 0, []), roles.get(pk or 0, []))


def mapped_fields(user: JsonDoc) -> list[tuple[str, str | None]]:
    """A directory user's mapped names and their values as shown (None: no value), in its order."""
    shown: list[tuple[str, str | None]] = []
    for name, value in user.items():
        if name in RESERVED:
            continue
        text = None if value is None else value if isinstance(value, str) else orjson.dumps(value).decode()
        shown.append((name, text))
    return shown
