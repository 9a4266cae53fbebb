"""Hot point reads, built once (``prepared``): token lookup, GET by id, plain pages, key equality.

On SQLite they run on a dedicated sqlite3 connection (``FastReads``) in autocommit mode on the
event loop thread and see every committed write (WAL); on PostgreSQL on a pooled connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from operator import itemgetter
from typing import Any
from typing import cast as typed

import orjson
from sqlalchemy import BigInteger
from sqlalchemy import bindparam
from sqlalchemy import cast
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import literal_column
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import JSONB

from scimhub.store.base import MemberRef
from scimhub.store.base import WithGroups
from scimhub.store.prepared import Observer
from scimhub.store.prepared import Prepared
from scimhub.store.prepared import parameters
from scimhub.store.prepared import prepare
from scimhub.store.tables import RESOURCE_COLUMNS
from scimhub.store.tables import group_members
from scimhub.store.tables import resource_counts
from scimhub.store.tables import resource_values
from scimhub.store.tables import resources
from scimhub.store.tables import token_changes
from scimhub.store.tables import tokens
from scimhub.store.tables import webhooks

_GROUP = resources.alias("g")
_MEMBER = resources.alias("m")

TOKEN = prepare(
    select(
        tokens.c.id,
        tokens.c.tenant_id,
        tokens.c.prefix,
        tokens.c.created_at,
        tokens.c.last_used_at,
        tokens.c.expires_at,
        tokens.c.revoked_at,
    ).where(tokens.c.digest == bindparam("digest"))
)
# Every process's token changes, counted by triggers (migration 0019): polled instead of each token.
TOKEN_CHANGES = prepare(select(token_changes.c.changes).where(token_changes.c.id == literal_column("1")))
RESOURCE = prepare(
    select(*RESOURCE_COLUMNS, resources.c.pk).where(
        resources.c.tenant_id == bindparam("tenant"),
        resources.c.id == bindparam("id"),
        resources.c.resource_type == bindparam("rtype"),
    )
)
COUNT = prepare(
    select(resource_counts.c.count, resource_counts.c.removed).where(
        resource_counts.c.tenant_id == bindparam("tenant"), resource_counts.c.resource_type == bindparam("rtype")
    )
)
# Many ids in one parameter (a JSON array): one precompiled statement whatever the page size.
_ID_LIST = select(func.json_each(bindparam("ids")).table_valued("value").c.value).scalar_subquery()
_PG_ID_LIST = select(func.jsonb_array_elements_text(cast(bindparam("ids"), JSONB))).scalar_subquery()


def _groups_of_many(ids: Any) -> Any:
    return (
        select(_MEMBER.c.id, _GROUP.c.id, _GROUP.c.display)
        .select_from(
            group_members.join(_GROUP, _GROUP.c.pk == group_members.c.group_pk).join(
                _MEMBER, _MEMBER.c.pk == group_members.c.member_pk
            )
        )
        .where(_MEMBER.c.tenant_id == bindparam("tenant"), _MEMBER.c.id.in_(ids))
        .order_by(group_members.c.member_pk, group_members.c.group_pk)
    )


GROUPS_OF_MANY = prepare(_groups_of_many(_ID_LIST), postgresql=_groups_of_many(_PG_ID_LIST))
GROUPS_OF_ONE = prepare(
    select(_GROUP.c.id, _GROUP.c.display)
    .select_from(
        group_members.join(_GROUP, _GROUP.c.pk == group_members.c.group_pk).join(
            _MEMBER, _MEMBER.c.pk == group_members.c.member_pk
        )
    )
    .where(_MEMBER.c.tenant_id == bindparam("tenant"), _MEMBER.c.id == bindparam("id"))
    .order_by(group_members.c.group_pk)
)

# By pk, for resources read with theirs: the memberships index alone finds their rows (the pks
# come from a read already confined to the tenant).
_PK_LIST = select(func.json_each(bindparam("pks")).table_valued("value").c.value).scalar_subquery()
_PG_PK_LIST = select(cast(func.jsonb_array_elements_text(cast(bindparam("pks"), JSONB)), BigInteger)).scalar_subquery()
_GROUP_OF_MEMBER = group_members.join(_GROUP, _GROUP.c.pk == group_members.c.group_pk)
GROUPS_OF_PK = prepare(
    select(_GROUP.c.id, _GROUP.c.display)
    .select_from(_GROUP_OF_MEMBER)
    .where(group_members.c.member_pk == bindparam("pk"))
    .order_by(group_members.c.group_pk)
)


def _groups_of_pks(pks: Any) -> Any:
    return (
        select(group_members.c.member_pk, _GROUP.c.id, _GROUP.c.display)
        .select_from(_GROUP_OF_MEMBER)
        .where(group_members.c.member_pk.in_(pks))
        .order_by(group_members.c.member_pk, group_members.c.group_pk)
    )


GROUPS_OF_PKS = prepare(_groups_of_pks(_PK_LIST), postgresql=_groups_of_pks(_PG_PK_LIST))


_IN_TYPE = (resources.c.tenant_id == bindparam("tenant"), resources.c.resource_type == bindparam("rtype"))
# The first page of a list in creation order (the (tenant, type, pk) index), and of an equality on
# each key column (the existence checks every IdP sends).
PAGE = prepare(
    select(*RESOURCE_COLUMNS, resources.c.pk)
    .where(*_IN_TYPE)
    .order_by(resources.c.pk)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
# A cursor page in creation order (RFC 9865 without sortBy): the rows after a pk, one range scan
# of the same index however deep the page; one row more than asked says whether another follows.
PAGE_AFTER = prepare(
    select(*RESOURCE_COLUMNS, resources.c.pk)
    .where(*_IN_TYPE, resources.c.pk > bindparam("after"))
    .order_by(resources.c.pk)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))  # always 0: SQLite's LIMIT otherwise brings an unnamed offset parameter
)
EQ_PAGE = {
    column: prepare(
        select(*RESOURCE_COLUMNS, resources.c.pk)
        .where(*_IN_TYPE, resources.c[column] == bindparam("key"))
        .order_by(resources.c.pk)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    for column in ("id", "k_user_name", "k_external_id", "k_display_name")
}
# SQLite: a user's groups in its own row, as [[group pk, id, display], …] (JSON text): an existence
# check or a GET by id is one statement instead of two. SQLite before 3.44 has no ORDER BY in an
# aggregate, so the pk comes along and the reader sorts by it (``with_groups``).
_GROUPS_JSON = (
    select(func.json_group_array(func.json_array(group_members.c.group_pk, _GROUP.c.id, _GROUP.c.display)))
    .select_from(group_members.join(_GROUP, _GROUP.c.pk == group_members.c.group_pk))
    .where(group_members.c.member_pk == resources.c.pk)
    .scalar_subquery()
)
EQ_PAGE_WITH_GROUPS = {
    column: prepare(
        select(*RESOURCE_COLUMNS, resources.c.pk, _GROUPS_JSON)
        .where(*_IN_TYPE, resources.c[column] == bindparam("key"))
        .order_by(resources.c.pk)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    for column in ("id", "k_user_name", "k_external_id", "k_display_name")
}
RESOURCE_WITH_GROUPS = prepare(
    select(*RESOURCE_COLUMNS, resources.c.pk, _GROUPS_JSON).where(
        resources.c.tenant_id == bindparam("tenant"),
        resources.c.id == bindparam("id"),
        resources.c.resource_type == bindparam("rtype"),
    )
)


def with_groups(row: Sequence[Any]) -> WithGroups:
    """RESOURCE_COLUMNS, pk and the groups' JSON of ``EQ_PAGE_WITH_GROUPS``/``RESOURCE_WITH_GROUPS``."""
    stored = typed(WithGroups, WithGroups.from_json(*row[:7]))  # from_json makes a cls
    groups = orjson.loads(row[7])
    if len(groups) > 1:
        groups.sort(key=itemgetter(0))  # membership order, as GROUPS_OF_PK reads them
    stored.groups = [MemberRef(gid, "direct", display) for _, gid, display in groups]
    return stored


EQ_COUNT = {
    column: prepare(
        select(func.count()).select_from(resources).where(*_IN_TYPE, resources.c[column] == bindparam("key"))
    )
    for column in EQ_PAGE
}

# Equality on an attribute the value index holds (emails.value, a tenant's indexed extension
# attribute): the matching pks from the (tenant, path, value_key) index, then the rows by pk.
_VALUE_MATCHES = resources.c.pk.in_(
    select(resource_values.c.resource_pk).where(
        resource_values.c.tenant_id == bindparam("tenant"),
        resource_values.c.path == bindparam("path"),
        resource_values.c.value_key == bindparam("key"),
    )
)


# SQLite: the value index is named (INDEXED BY), as fast_writes.VALUES_OF names its own: under the
# one-row statistics a new server's first ANALYZE leaves, the planner read all of resource_values.
def _name_value_index(sql: str) -> str:
    return sql.replace(
        "FROM resource_values", "FROM resource_values INDEXED BY ix_resource_values_tenant_id_path_value_key", 1
    )


VALUE_EQ_PAGE = prepare(
    select(*RESOURCE_COLUMNS, resources.c.pk)
    .where(*_IN_TYPE, _VALUE_MATCHES)
    .order_by(resources.c.pk)
    .limit(bindparam("limit"))
    .offset(bindparam("offset")),
    sqlite_rewrite=_name_value_index,
)
VALUE_EQ_COUNT = prepare(
    select(func.count()).select_from(resources).where(*_IN_TYPE, _VALUE_MATCHES), sqlite_rewrite=_name_value_index
)


ANY_WEBHOOK = prepare(select(exists().where(webhooks.c.id.is_not(None))))


class FastReads:
    def __init__(self, database: str) -> None:
        self.database = database
        self._conn: sqlite3.Connection | None = None
        # Called with (sql, parameters) before each statement (tests explain the query plans).
        self.observers: list[Observer] = []

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(self.database, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=10000")
        return self._conn

    def rows(self, statement: Prepared, **params: str | int) -> list[tuple[Any, ...]]:
        [values] = parameters(statement.sql, statement.names, [params], self.observers)
        return self._connection().execute(statement.sql, values).fetchall()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
