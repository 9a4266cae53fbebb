"""A group and its members read in one snapshot, the members a chunk at a time (a streamed GET).

The group's row and every member row come from one read transaction: on SQLite a deferred BEGIN on
a reader connection (WAL: the snapshot never blocks the writer, and the writer never blocks it);
on PostgreSQL ``REPEATABLE READ READ ONLY``. So the members sent are exactly those of the version
the ETag names, however long the response takes, and whatever commits meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import bindparam
from sqlalchemy import select

from scimhub.store.base import GroupMembers
from scimhub.store.base import StoredResource
from scimhub.store.database import Database
from scimhub.store.fast_reads import RESOURCE
from scimhub.store.prepared import prepare
from scimhub.store.tables import group_members
from scimhub.store.tables import resources

_MEMBER = resources.alias("m")
# The (group_pk, member_pk) unique index walked in order, each member's row by its primary key.
MEMBERS_OF_GROUP = prepare(
    select(_MEMBER.c.id, group_members.c.member_type, _MEMBER.c.display)
    .select_from(group_members.join(_MEMBER, _MEMBER.c.pk == group_members.c.member_pk))
    .where(group_members.c.group_pk == bindparam("pk"))
    .order_by(group_members.c.member_pk)
)


@asynccontextmanager
async def group_members_snapshot(
    db: Database, tenant_id: str, resource_type: str, id: str, chunk: int
) -> AsyncIterator[GroupMembers | None]:
    """The group (None when there is none) and an iterator over its members, ``chunk`` rows a time,
    both read in the one transaction that stays open until the caller leaves the context."""
    async with db.read() as tx:
        found = await tx.rows(RESOURCE, tenant=tenant_id, id=id, rtype=resource_type)
        if not found:
            yield None
            return
        id_, rtype, doc, created, last_modified, version, pk = found[0]
        stored = StoredResource.from_json(id_, rtype, doc, created, last_modified, version, pk)
        yield GroupMembers(stored, tx.chunks(MEMBERS_OF_GROUP, chunk, pk=pk))
