"""PostgreSQL's hot reads, one round trip each.

On PostgreSQL every statement is a network round trip, and its CPU on scimhub's side (asyncpg's
protocol, the event loop's wake-ups, the socket calls) is most of what a hot read costs there:
SQLite answers the same statement in process for a few µs. So each read that an IdP repeats is
one statement here that brings everything the response needs:

- a user (GET by id) or an existence check's page (``userName eq``…) with each user's groups
  (arrays aggregated in a LATERAL join), which ``SqlStore.groups_of`` then reads from the rows
  (``WithGroups``) instead of asking again;
- a list page (startIndex or cursor, creation order) with the type's count and deletions
  (``resource_counts``: the total and the ``PagePositions`` key) and, for users, their groups.

What each returns is what the plain path returns (``SqlStore._quick_search``, ``get``,
``groups_of``); the statements read one snapshot where the plain path read two or three.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from typing import cast

from sqlalchemy import text

from scimhub.store import fast_reads as fast
from scimhub.store.base import Keyset
from scimhub.store.base import MemberRef
from scimhub.store.base import Page
from scimhub.store.base import Query
from scimhub.store.base import StoredResource
from scimhub.store.base import WithGroups
from scimhub.store.base import groups_read_with
from scimhub.store.database import Database
from scimhub.store.index_plan import eq_probe
from scimhub.store.positions import PagePositions
from scimhub.store.prepared import Prepared

# Only users have `groups` (RFC 7643 §4.1.2); a group's members are read another way.
WITH_GROUPS = "User"


def pg_statement(sql: str, names: tuple[str, ...]) -> Prepared:
    """A PostgreSQL-only statement written as text: ``names`` are its parameters $1, $2, … in order."""
    statement = Prepared(text(sql))  # its SQLite form is never compiled
    statement.pg_sql, statement.pg_names = sql, names
    return statement


_COLUMNS = "r.id, r.resource_type, r.doc, r.created, r.last_modified, r.version, r.pk"
_P_COLUMNS = _COLUMNS.replace("r.", "p.")


# A user's groups as two arrays (ids, displays) in the order GROUPS_OF_PK reads them; NULL: none.
def groups_of(alias: str) -> str:
    """A LATERAL join giving ``gr.ids``, ``gr.displays``: the groups of ``alias``.pk. Each group is
    read by its pk in a LATERAL subquery that LIMIT keeps from being flattened into a join, so even
    a planner without statistics cannot hash the whole resources table for it."""
    return (
        "LEFT JOIN LATERAL (SELECT array_agg(g.id ORDER BY gm.group_pk) AS ids,"
        " array_agg(g.display ORDER BY gm.group_pk) AS displays FROM group_members gm"
        " CROSS JOIN LATERAL (SELECT r.id, r.display FROM resources r WHERE r.pk = gm.group_pk LIMIT 1) AS g"
        f" WHERE gm.member_pk = {alias}.pk) AS gr ON true"
    )


_GROUPS = groups_of("p")
_IN_TYPE = "r.tenant_id = $1 AND r.resource_type = $2"


def _page_sql(condition: str, groups: bool) -> str:
    """A page of ``condition``'s matches in creation order (limit $3, offset $4), groups beside."""
    inner = f"SELECT {_COLUMNS} FROM resources r WHERE {_IN_TYPE}{condition} ORDER BY r.pk LIMIT $3 OFFSET $4"
    if not groups:
        return inner
    return f"SELECT {_P_COLUMNS}, gr.ids, gr.displays FROM ({inner}) AS p {_GROUPS} ORDER BY p.pk"


def _counted_page_sql(kind: str, groups: bool) -> str:
    """The type's (count, removed) and a page of the list: one row with NULL resource columns when
    the page is empty, none when the type has no count row. ``kind``: "offset" (limit $3, offset
    $4), "after" (the rows after pk $5: a cursor page) or "resume" (a startIndex page that goes on
    after pk $5 when the list's deletion counter is still $6, else from offset $4: the counter
    decides in the statement which of the two runs, so a deletion since costs no second trip)."""
    page = f"SELECT {_COLUMNS} FROM resources r WHERE {_IN_TYPE}"
    inner = {
        "offset": f"{page} ORDER BY r.pk LIMIT $3 OFFSET $4",
        "after": f"{page} AND r.pk > $5 ORDER BY r.pk LIMIT $3 OFFSET $4",
        "resume": f"({page} AND r.pk > $5 AND c.removed = $6 ORDER BY r.pk LIMIT $3)"
        f" UNION ALL ({page} AND c.removed <> $6 ORDER BY r.pk LIMIT $3 OFFSET $4)",
    }[kind]
    extra = ", gr.ids, gr.displays" if groups else ""
    return (
        f"SELECT c.count, c.removed, {_P_COLUMNS}{extra} FROM resource_counts c"
        f" LEFT JOIN LATERAL ({inner}) AS p ON true {_GROUPS if groups else ''}"
        " WHERE c.tenant_id = $1 AND c.resource_type = $2 ORDER BY p.pk"
    )


_PAGE_NAMES = ("tenant", "rtype", "limit", "offset")
_KEY_COLUMNS = ("id", "k_user_name", "k_external_id", "k_display_name")
EQ_PAGE = {
    (column, groups): pg_statement(_page_sql(f" AND r.{column} = $5", groups), (*_PAGE_NAMES, "key"))
    for column in _KEY_COLUMNS
    for groups in (False, True)
}
_VALUE_MATCH = (
    " AND r.pk IN (SELECT v.resource_pk FROM resource_values v"
    " WHERE v.tenant_id = $1 AND v.path = $5 AND v.value_key = $6)"
)
VALUE_EQ_PAGE = {
    groups: pg_statement(_page_sql(_VALUE_MATCH, groups), (*_PAGE_NAMES, "path", "key")) for groups in (False, True)
}
_COUNTED_NAMES = {"offset": (), "after": ("after",), "resume": ("after", "removed")}
COUNTED_PAGE = {
    (kind, groups): pg_statement(_counted_page_sql(kind, groups), (*_PAGE_NAMES, *names))
    for kind, names in _COUNTED_NAMES.items()
    for groups in (False, True)
}
RESOURCE_WITH_GROUPS = pg_statement(
    f"SELECT {_P_COLUMNS}, gr.ids, gr.displays FROM resources p {_GROUPS}"
    " WHERE p.tenant_id = $1 AND p.id = $2 AND p.resource_type = $3",
    ("tenant", "id", "rtype"),
)


def _resource(row: Sequence[Any], at: int = 0) -> StoredResource:
    """RESOURCE_COLUMNS and pk from ``row[at:]``."""
    return StoredResource.from_json(*row[at : at + 7])


def member_refs(ids: list[str] | None, displays: list[str | None] | None) -> list[MemberRef]:
    """The groups as ``groups_of`` gave them: ids and displays in one order (NULL: none)."""
    return (
        []
        if ids is None or displays is None
        else [MemberRef(i, "direct", d) for i, d in zip(ids, displays, strict=True)]
    )


def _with_groups(row: Sequence[Any], at: int = 0) -> WithGroups:
    """RESOURCE_COLUMNS, pk, then the groups' ids and displays from ``row[at:]``."""
    stored = cast(WithGroups, WithGroups.from_json(*row[at : at + 7]))  # from_json makes a cls
    stored.groups = member_refs(row[at + 7], row[at + 8])
    return stored


class WrittenGroups:
    """The groups of users as their write read them (in its transaction, after locking the user's
    row, so no membership of the user could change before the commit without waiting for it),
    for the write's own response: kept by the identity of the StoredResource the unit of work
    wrote, which is the one the response renders. Bounded: a response that leaves out ``groups``
    (or a write that failed) never asks for them."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._kept: OrderedDict[int, tuple[StoredResource, list[MemberRef]]] = OrderedDict()

    def keep(self, resource: StoredResource, groups: list[MemberRef]) -> None:
        self._kept[id(resource)] = (resource, groups)  # the reference keeps the id from being reused
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)

    def take(self, resource: StoredResource) -> list[MemberRef] | None:
        kept = self._kept.pop(id(resource), None)
        return kept[1] if kept is not None and kept[0] is resource else None


class PgReads:
    """The one-statement forms of ``SqlStore.get`` and ``SqlStore._quick_search`` on PostgreSQL."""

    def __init__(self, db: Database, positions: PagePositions) -> None:
        self.db = db
        self.positions = positions
        # Each list's deletion counter as last read: the key under which its page ends were
        # remembered, assumed still current when the next page's one statement is built.
        self._removed: dict[tuple[str, str], int] = {}
        self.written = WrittenGroups()

    def groups_read_with(self, members: Sequence[StoredResource]) -> dict[str, list[MemberRef]] | None:
        """The groups of ``members`` when every one was read (or written) with them, else None."""
        if len(members) == 1 and (written := self.written.take(members[0])) is not None:
            return {members[0].id: written} if written else {}
        return groups_read_with(members)

    async def get(self, tenant_id: str, resource_type: str, id: str) -> StoredResource | None:
        found = await self.db.fast(RESOURCE_WITH_GROUPS, tenant=tenant_id, id=id, rtype=resource_type)
        return _with_groups(found[0]) if found else None

    async def quick_search(self, tenant_id: str, query: Query) -> Page | None:
        """Like ``SqlStore._quick_search`` (None: not a query it answers)."""
        if query.sort_by is not None or query.descending or query.count <= 0:
            return None
        if query.cursor_mode or query.keyset is not None:
            return await self._cursor_page(tenant_id, query)
        if query.filter is None:
            return await self._plain_page(tenant_id, query)
        return await self._eq_page(tenant_id, query)

    async def _eq_page(self, tenant_id: str, query: Query) -> Page | None:
        probe = eq_probe(query.filter)
        if probe is None:
            return None
        groups = query.resource_type == WITH_GROUPS
        params: dict[str, Any] = {
            "tenant": tenant_id,
            "rtype": query.resource_type,
            "limit": query.count,
            "offset": query.start_index - 1,
            "key": probe.key,
        }
        if probe.value_path is not None:
            params["path"] = probe.value_path
            page, count = VALUE_EQ_PAGE[groups], fast.VALUE_EQ_COUNT
        else:
            page, count = EQ_PAGE[probe.column, groups], fast.EQ_COUNT[probe.column]  # type: ignore[index]
        rows = await self.db.fast(page, **params)
        if query.start_index == 1 and len(rows) < query.count:
            total = len(rows)  # the page holds every match: an existence check needs no COUNT
        else:
            total = int((await self.db.fast(count, **params))[0][0])
        read = _with_groups if groups else _resource
        return Page(total, [read(r) for r in rows])

    async def _counted(self, tenant_id: str, query: Query, kind: str, **params: Any) -> tuple[int, int, list[Any]]:
        """(count, removed, the page's rows, their two count columns left on: the rows start at 2)."""
        groups = query.resource_type == WITH_GROUPS
        rows = await self.db.fast(COUNTED_PAGE[kind, groups], tenant=tenant_id, rtype=query.resource_type, **params)
        if not rows:
            return 0, 0, []
        return int(rows[0][0]), int(rows[0][1]), [r for r in rows if r[2] is not None]

    def _read(self, query: Query, rows: list[Sequence[Any]]) -> list[StoredResource]:
        if query.resource_type == WITH_GROUPS:
            return [_with_groups(r, 2) for r in rows]
        return [_resource(r, 2) for r in rows]

    async def _plain_page(self, tenant_id: str, query: Query) -> Page:
        """A startIndex page: after the pk that ended the previous page (``PagePositions``) while
        the list lost nothing since, else OFFSET (the statement tells them apart)."""
        list_key = (tenant_id, query.resource_type)
        assumed = self._removed.get(list_key)  # the deletion counter the positions were kept under
        after = None
        if assumed is not None:
            after = self.positions.end_before((tenant_id, query.resource_type, assumed), query.start_index)
        page = {"limit": query.count, "offset": query.start_index - 1}
        if after is None:
            total, removed, rows = await self._counted(tenant_id, query, "offset", **page)
        else:
            total, removed, rows = await self._counted(tenant_id, query, "resume", **page, after=after, removed=assumed)
        self._removed[list_key] = removed
        if len(rows) == query.count:
            place = (tenant_id, query.resource_type, removed)
            self.positions.remember(place, query.start_index + len(rows), rows[-1][8])
        return Page(total, self._read(query, rows))

    async def _cursor_page(self, tenant_id: str, query: Query) -> Page | None:
        key = query.keyset
        if query.filter is not None or (key is not None and key.before):
            return None
        after = 0 if key is None else key.pk  # pks start at 1
        total, _, rows = await self._counted(tenant_id, query, "after", after=after, limit=query.count + 1, offset=0)
        page = self._read(query, rows[: query.count])
        if not page:
            return Page(total, [], more_before=key is not None)
        first, last = Keyset(None, rows[0][8]), Keyset(None, rows[len(page) - 1][8])
        return Page(total, page, first, last, more_after=len(rows) > query.count, more_before=key is not None)
