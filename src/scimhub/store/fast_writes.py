"""The unit of work's hot statements, built once (``prepared``). On SQLite they run on the
transaction's own sqlite3 connection (inside the same BEGIN IMMEDIATE), without SQLAlchemy's
per-call construction and execution cost (about 80 µs a statement)."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import literal_column
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from scimhub.store import index_plan
from scimhub.store.prepared import Prepared
from scimhub.store.prepared import prepare
from scimhub.store.tables import RESOURCE_COLUMNS
from scimhub.store.tables import audit_log
from scimhub.store.tables import events
from scimhub.store.tables import group_members
from scimhub.store.tables import resource_counts
from scimhub.store.tables import resource_values
from scimhub.store.tables import resources
from scimhub.store.tables import tenant_event_seq


def _bind(*names: str) -> dict[str, Any]:
    return {name: bindparam(name) for name in names}


_ROW = (
    "doc",
    "doc_keys",
    "last_modified",
    "version",
    "active",
    "display",
    "k_user_name",
    "k_external_id",
    "k_display_name",
)
_WHERE = (
    resources.c.tenant_id == bindparam("w_tenant"),
    resources.c.id == bindparam("w_id"),
    resources.c.resource_type == bindparam("w_rtype"),
)

KEY_COLUMNS = tuple(index_plan.KEY_COLUMNS.values())  # the indexed columns _ROW sets
# pk, RESOURCE_COLUMNS, then the key columns (an update whose keys did not change leaves them out)
GET_FOR_UPDATE = prepare(
    select(resources.c.pk, *RESOURCE_COLUMNS, *(resources.c[k] for k in KEY_COLUMNS))
    .where(*_WHERE)
    .with_for_update()  # PostgreSQL: concurrent read-modify-writes of one resource queue here
)
# Run with ``Tx.insert``, which gives the new row's pk: on SQLite the rowid the driver reports
# (a RETURNING clause costs ~9 µs more a created resource there: SQLite collects the returned rows
# in a temporary table first), on PostgreSQL the RETURNING of its form.
_INSERT_RESOURCE = insert(resources).values(_bind("tenant_id", "resource_type", "id", "created", *_ROW))
INSERT_RESOURCE = prepare(_INSERT_RESOURCE, postgresql=_INSERT_RESOURCE.returning(resources.c.pk))
# A bulk run's create (``batch_sql``): a resource whose userName a resource already holds (an
# earlier create of the run included) is not inserted, and its operation alone answers 409; any
# other conflict still fails the unit of work. Run with ``Tx.insert_or_skip``.
_USER_NAME_KEY = ("tenant_id", "resource_type", index_plan.KEY_COLUMNS["userName"])
_VALUES = _bind("tenant_id", "resource_type", "id", "created", *_ROW)
_PG_UNLESS_TAKEN = postgresql_insert(resources).values(_VALUES).on_conflict_do_nothing(index_elements=_USER_NAME_KEY)
INSERT_RESOURCE_UNLESS_TAKEN = prepare(
    sqlite_insert(resources).values(_VALUES).on_conflict_do_nothing(index_elements=_USER_NAME_KEY),
    postgresql=_PG_UNLESS_TAKEN.returning(resources.c.pk),
)
# PostgreSQL: up to this many such rows in one statement, one round trip (asyncpg's ~40 µs of
# client CPU each; SQLite runs in-process, one INSERT a row). It returns (id, pk) of those inserted.
TOGETHER = 10
_together: dict[int, Prepared] = {}


def insert_resources_unless_taken(rows: int) -> Prepared:
    """``INSERT_RESOURCE_UNLESS_TAKEN`` of ``rows`` rows at once (PostgreSQL); parameter ``c_i``
    is column ``c`` of row ``i``."""
    found = _together.get(rows)
    if found is None:
        values: list[dict[str, Any]] = [{name: bindparam(f"{name}_{i}") for name in _VALUES} for i in range(rows)]
        stmt = postgresql_insert(resources).values(values).on_conflict_do_nothing(index_elements=_USER_NAME_KEY)
        found = _together[rows] = prepare(stmt, postgresql=stmt.returning(resources.c.id, resources.c.pk))
    return found


def _update_resource(keys: tuple[str, ...]) -> Prepared:
    return prepare(
        update(resources).where(*_WHERE).values(_bind(*(c for c in _ROW if c not in KEY_COLUMNS or c in keys)))
    )


# The resource UPDATE by the key columns it sets: those whose value changed (in KEY_COLUMNS order).
# SQLite rewrites the entry of every index on a column the SET names, equal value or not: a
# deactivation sets none (3 index entries fewer in the commit), Okta's PUT (a new displayName, no
# externalId) leaves the userName's unique index alone.
UPDATE_RESOURCE = {
    keys: _update_resource(keys)
    for size in range(len(KEY_COLUMNS) + 1)
    for keys in itertools.combinations(KEY_COLUMNS, size)
}
# SQLite: the index is named (INDEXED BY) so that the plan cannot depend on statistics. ANALYZE run
# while the directory held a row or two (a new server's first upkeep) leaves sqlite_stat1 saying
# every table has one row, and the planner then reads all of resource_values for each update
# (measured: 60-70 µs of a PATCH at 2,000 users, growing with the directory).
VALUES_OF = prepare(
    text(
        "SELECT path, value_key FROM resource_values INDEXED BY ix_resource_values_resource_pk WHERE resource_pk = :pk"
    ),
    postgresql=select(resource_values.c.path, resource_values.c.value_key).where(
        resource_values.c.resource_pk == bindparam("pk")
    ),
)
DELETE_VALUES = prepare(delete(resource_values).where(resource_values.c.resource_pk == bindparam("pk")))
INSERT_VALUE = prepare(insert(resource_values).values(_bind("resource_pk", "tenant_id", "path", "value_key")))


# Group membership, one member at a time: IdPs add and remove members one by one, and a member
# change must stay cheap on a group of any size (one row). Larger batches use one Core statement.
RESOLVE_ONE = prepare(
    select(resources.c.id, resources.c.resource_type, resources.c.pk).where(
        resources.c.tenant_id == bindparam("tenant"), resources.c.id == bindparam("id")
    )
)


def _add_member(insert_: Any) -> Any:
    return (
        insert_(group_members)
        .values(_bind("tenant_id", "group_pk", "member_pk", "member_type"))
        .on_conflict_do_nothing()
        .returning(group_members.c.member_pk)
    )


ADD_MEMBER = prepare(_add_member(sqlite_insert), postgresql=_add_member(postgresql_insert))
REMOVE_MEMBER = prepare(
    delete(group_members)
    .where(group_members.c.group_pk == bindparam("group_pk"), group_members.c.member_pk == bindparam("member_pk"))
    .returning(group_members.c.member_pk)
)
# The groups a resource is a member of (a deletion touches them and announces its leaving them),
# through the memberships' member index; and the deletion itself (memberships and indexed values
# go with it: ON DELETE CASCADE).
# SQLite: the memberships stay the outer loop (CROSS JOIN), read by their member index, and the groups
# are read by pk (NOT INDEXED leaves only the rowid), whatever the statistics say: with a one-row
# sqlite_stat1 SQLite walked every resource of the tenant instead.
GROUPS_OF_MEMBER = prepare(
    text(
        "SELECT resources.id, resources.pk FROM group_members INDEXED BY ix_group_members_member_pk "
        "CROSS JOIN resources NOT INDEXED ON resources.pk = group_members.group_pk "
        "WHERE group_members.member_pk = :member_pk"
    ),
    postgresql=select(resources.c.id, resources.c.pk)
    .select_from(group_members.join(resources, resources.c.pk == group_members.c.group_pk))
    .where(group_members.c.member_pk == bindparam("member_pk")),
)
DELETE_RESOURCE = prepare(delete(resources).where(*_WHERE).returning(resources.c.pk))
# A new version and lastModified for a resource whose representation changed indirectly.
TOUCH = prepare(
    update(resources)
    .where(resources.c.pk == bindparam("pk"))
    .values(version=resources.c.version + literal_column("1"), last_modified=bindparam("when"))
)


def _count(insert_: Any) -> Any:
    return (
        insert_(resource_counts)
        .values(_bind("tenant_id", "resource_type", "count"))
        .on_conflict_do_update(
            index_elements=["tenant_id", "resource_type"],
            set_={
                "count": resource_counts.c.count + bindparam("delta"),
                "removed": resource_counts.c.removed + bindparam("deleted"),
            },
        )
    )


COUNT = prepare(_count(sqlite_insert), postgresql=_count(postgresql_insert))
NEXT_SEQ = prepare(
    update(tenant_event_seq)
    .where(tenant_event_seq.c.tenant_id == bindparam("tenant"))
    .values(last_seq=tenant_event_seq.c.last_seq + bindparam("n"))
    .returning(tenant_event_seq.c.last_seq)
)
INSERT_EVENT = prepare(
    insert(events).values(
        _bind("tenant_id", "seq", "id", "type", "resource_type", "resource_id", "occurred_at", "payload")
    )
)
INSERT_AUDIT = prepare(
    insert(audit_log).values(
        _bind(
            "tenant_id",
            "occurred_at",
            "token_id",
            "method",
            "path",
            "status",
            "resource_type",
            "resource_id",
            "first_seq",
            "last_seq",
            "detail",
        )
    )
)
