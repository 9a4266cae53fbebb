"""Prepared statements behind the per-process caches of the request path: a tenant's settings
(read at each refresh of its config, every 10 s per active tenant) and the tokens' last use
(written in batches). With thousands of quiet tenants nearly every request refreshes something,
so each is one statement on the driver, not a Core statement built and compiled per call."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import union
from sqlalchemy import update

from scimhub.store.prepared import prepare
from scimhub.store.tables import tenant_schemas
from scimhub.store.tables import tenant_settings
from scimhub.store.tables import tokens

TENANT_SETTINGS = prepare(
    select(tenant_settings.c.key, tenant_settings.c.value).where(tenant_settings.c.tenant_id == bindparam("tenant_id"))
)
# The tenants whose config is not the default one (most have neither settings nor schemas): one
# read tells the config cache which tenants need reads of their own. (SQLite's dialect adds an
# OFFSET to a LIMIT: a named one, since a prepared statement's parameters are all named.)
CONFIGURED_TENANTS = prepare(
    union(select(tenant_settings.c.tenant_id), select(tenant_schemas.c.tenant_id))
    .limit(bindparam("limit"))
    .offset(bindparam("skip"))
)
# Never moves last_used_at backwards (two processes may flush out of order).
TOUCH_TOKEN = prepare(
    update(tokens)
    .where(
        tokens.c.id == bindparam("token_id"),
        (tokens.c.last_used_at.is_(None)) | (tokens.c.last_used_at < bindparam("when")),
    )
    .values(last_used_at=bindparam("when"))
)
