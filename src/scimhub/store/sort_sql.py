"""``sortBy`` → SQL sort key (RFC 7644 §3.4.2.3).

The key is the comparison key of the value (casefolded unless caseExact), so that sorting
agrees with filtering; a multi-valued attribute sorts by its primary value, else its first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from scimhub.schema.model import Attribute
from scimhub.schema.model import AttrType
from scimhub.schema.paths import BoundPath
from scimhub.schema.registry import COMMON_SCHEMA
from scimhub.store.dialects import JsonDialect
from scimhub.store.dialects import PathKey
from scimhub.store.index_plan import META_COLUMNS
from scimhub.store.index_plan import key_column
from scimhub.store.tables import resources


def sort_nullable(path: BoundPath) -> bool:
    """Whether rows may lack a sort value (required key columns and server columns never do)."""
    if key_column(path) is not None:
        return not path.leaf.required and path.attribute.schema != COMMON_SCHEMA
    return path.attribute.schema != COMMON_SCHEMA


def index_ordered(path: BoundPath) -> bool:
    """Whether an index gives rows in this order (a required key column): any other sort reads
    and sorts every matching row."""
    return key_column(path) is not None and not sort_nullable(path)


def sort_key(path: BoundPath, dialect: JsonDialect, resource_type: str) -> ColumnElement[Any]:
    column = key_column(path)
    if column is not None:
        return resources.c[column]
    if path.attribute.schema == COMMON_SCHEMA:
        if path.sub is not None and path.sub.name in META_COLUMNS:
            return resources.c[META_COLUMNS[path.sub.name]]
        return literal(resource_type)
    prefix: list[PathKey] = [path.extension] if path.extension else []
    attr = path.attribute
    if attr.multi_valued:
        return _primary_or_first(path, dialect, [*prefix, attr.name])
    keys = [*prefix, attr.name, *([path.sub.name] if path.sub else [])]
    return _comparable(path.leaf, dialect.extract(dialect.document, keys), dialect)


def _primary_or_first(path: BoundPath, d: JsonDialect, keys: list[PathKey]) -> ColumnElement[Any]:
    sub = path.sub or path.attribute.sub_attribute("value")
    if sub is None or not path.attribute.is_complex:
        return _comparable(path.leaf, d.extract(d.document, [*keys, 0]), d)
    elements = d.elements(d.document, keys)
    primary = (
        select(d.extract(elements.c.value, [sub.name]))
        .where(d.extract(elements.c.value, ["primary"]) == d.boolean(True))
        .limit(1)
        .scalar_subquery()
    )
    first = d.extract(d.document, [*keys, 0, sub.name])
    return _comparable(sub, func.coalesce(primary, first), d)


def _comparable(leaf: Attribute, value: ColumnElement[Any], d: JsonDialect) -> ColumnElement[Any]:
    if leaf.type in (AttrType.STRING, AttrType.REFERENCE):
        return d.key(value, leaf.case_exact)
    if leaf.type is AttrType.DATETIME:
        return d.instant(value)
    if leaf.type in (AttrType.INTEGER, AttrType.DECIMAL):
        return d.number(value)
    return value
