"""Bound filter → SQLAlchemy boolean expression (bound parameters only).

Equality on the attributes of the index plan runs on casefolded key columns (or the
resource_values table for multi-valued ones): index probes whatever the tenant size.
"""

from __future__ import annotations

from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import false
from sqlalchemy import not_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from scimhub.errors import InvalidFilter
from scimhub.filter.ast import CompareOp
from scimhub.filter.bind import BAnd
from scimhub.filter.bind import BCompare
from scimhub.filter.bind import BNot
from scimhub.filter.bind import BOr
from scimhub.filter.bind import Bound
from scimhub.schema.compare import comparison_key
from scimhub.store.index_plan import is_multi_value_key
from scimhub.store.index_plan import key_column
from scimhub.store.tables import resource_values
from scimhub.store.tables import resources


def compile_filter(node: Bound, tenant_id: str) -> ColumnElement[bool]:
    """SQL condition on ``resources`` equivalent to ``filter.evaluate.matches``."""
    if isinstance(node, BAnd):
        return and_(compile_filter(node.left, tenant_id), compile_filter(node.right, tenant_id))
    if isinstance(node, BOr):
        return or_(compile_filter(node.left, tenant_id), compile_filter(node.right, tenant_id))
    if isinstance(node, BNot):
        return not_(compile_filter(node.expr, tenant_id))
    if isinstance(node, BCompare) and node.op is CompareOp.EQ:
        return _indexed_eq(node, tenant_id)
    raise InvalidFilter(
        f"This server answers equality filters on userName, externalId, displayName "
        f"and emails.value only; unsupported: {_describe(node)}."
    )


def _indexed_eq(node: BCompare, tenant_id: str) -> ColumnElement[bool]:
    if not isinstance(node.value, str):
        return false()
    key = comparison_key(node.path.leaf, node.value)
    column = key_column(node.path)
    if column is not None:
        return resources.c[column] == key
    if is_multi_value_key(node.path):
        return exists(
            select(resource_values.c.resource_pk).where(
                resource_values.c.resource_pk == resources.c.pk,
                resource_values.c.tenant_id == tenant_id,
                resource_values.c.path == node.path.key,
                resource_values.c.value_key == key,
            )
        )
    raise InvalidFilter(f"Equality on '{node.path.key}' is not supported by this server yet.")


def _describe(node: Bound) -> str:
    if isinstance(node, BCompare):
        return f"'{node.path.key} {node.op}'"
    return type(node).__name__.removeprefix("B").lower()
