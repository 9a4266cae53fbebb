"""Comparison keys with the RFC 8265 width mapping; ``schemas`` compared as a common attribute.

The key of a value that is not caseExact now maps fullwidth and halfwidth characters before NFC and
case folding (``schema.compare.fold``), and ``schemas`` is a common attribute whose values
PostgreSQL's ``doc_keys`` holds as keys. This recomputes, with the code's index plan:

- every resource whose document holds such a character (U+3000, U+FF00-U+FFEF): its key columns
  and ``resource_values`` rows (and ``doc_keys`` on PostgreSQL);
- on PostgreSQL, ``doc_keys`` of every other resource too (its ``schemas`` were not keys).

A user whose new ``userName`` key is already another user's of the same tenant (fullwidth ``WIDE``
next to ``wide``) keeps its old key, since the unique index refuses the new one, and is logged:
rename one of the two. Until then a write to that user that keeps its userName answers 409.

Downgrade leaves the keys as they are (the older code compares them as before, except values
holding those characters, which it finds by their width-mapped spelling only).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from scimhub.schema.compare import WIDTH_MAP
from scimhub.schema.registry import default_registry
from scimhub.store.base import IndexKeys
from scimhub.store.index_plan import index_keys

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 1000
_WIDE_CHARACTERS = "".join(map(chr, WIDTH_MAP))  # none of them is special inside [...]
_WIDE = re.compile(f"[{_WIDE_CHARACTERS}]")
log = logging.getLogger("scimhub.migrations")
_SELECT = "SELECT pk, tenant_id, resource_type, doc, k_user_name FROM resources WHERE pk > :after"
_SELECT_ALL = f"{_SELECT} ORDER BY pk LIMIT {BATCH}"
_SELECT_WIDE = f"{_SELECT} AND doc GLOB :pattern ORDER BY pk LIMIT {BATCH}"


def upgrade() -> None:
    conn = op.get_bind()
    postgres = conn.dialect.name == "postgresql"
    registry = default_registry()
    for batch in _batches(conn, postgres):
        doc_keys = []
        for pk, tenant_id, rtype_id, doc_text, old_user_name in batch:
            rtype = registry.resource_types.get(rtype_id)
            if rtype is None:
                continue
            keys = index_keys(orjson.loads(doc_text), rtype, registry.common)
            if _WIDE.search(doc_text) is not None:
                _rewrite_keys(conn, pk, tenant_id, rtype_id, keys, old_user_name)
            if postgres and keys.comparison_doc is not None:
                doc_keys.append({"pk": pk, "doc_keys": orjson.dumps(keys.comparison_doc()).decode()})
        if doc_keys:
            conn.execute(sa.text("UPDATE resources SET doc_keys = CAST(:doc_keys AS JSONB) WHERE pk = :pk"), doc_keys)


def _batches(conn: sa.Connection, postgres: bool) -> Iterator[list[tuple[Any, ...]]]:
    """(pk, tenant, type, doc, k_user_name) of the resources to look at, a batch at a time by pk."""
    # SQLite reads only the documents holding a width-mapped character; PostgreSQL reads all.
    query = sa.text(_SELECT_ALL if postgres else _SELECT_WIDE)
    params: dict[str, Any] = {"after": 0} if postgres else {"after": 0, "pattern": f"*[{_WIDE_CHARACTERS}]*"}
    while True:
        rows = [tuple(row) for row in conn.execute(query, params).all()]
        if rows:
            yield rows
        if len(rows) < BATCH:
            return
        params["after"] = rows[-1][0]


def _rewrite_keys(
    conn: sa.Connection, pk: int, tenant_id: str, rtype_id: str, keys: IndexKeys, old_user_name: str | None
) -> None:
    columns = dict(keys.columns)
    new_user_name = columns.get("k_user_name")
    moved = new_user_name is not None and new_user_name != old_user_name
    if moved and _taken(conn, pk, tenant_id, rtype_id, str(new_user_name)):
        log.warning(
            "resource pk %s (tenant %s): userName key %r is another %s's; the old key stays until one is renamed",
            pk,
            tenant_id,
            new_user_name,
            rtype_id,
        )
        columns["k_user_name"] = old_user_name
    conn.execute(
        sa.text(
            "UPDATE resources SET k_user_name = :k_user_name, k_external_id = :k_external_id,"
            " k_display_name = :k_display_name WHERE pk = :pk"
        ),
        {"pk": pk, **columns},
    )
    conn.execute(sa.text("DELETE FROM resource_values WHERE resource_pk = :pk"), {"pk": pk})
    values = [
        {"pk": pk, "tenant_id": tenant_id, "path": path, "value_key": key}
        for path, found in keys.multi.items()
        for key in found
    ]
    if values:
        conn.execute(
            sa.text(
                "INSERT INTO resource_values (resource_pk, tenant_id, path, value_key)"
                " VALUES (:pk, :tenant_id, :path, :value_key)"
            ),
            values,
        )


def _taken(conn: sa.Connection, pk: int, tenant_id: str, rtype_id: str, key: str) -> bool:
    query = sa.text(
        "SELECT 1 FROM resources WHERE tenant_id = :tenant_id AND resource_type = :rtype"
        " AND k_user_name = :key AND pk <> :pk"
    )
    return conn.execute(query, {"tenant_id": tenant_id, "rtype": rtype_id, "key": key, "pk": pk}).first() is not None


def downgrade() -> None:
    pass
