"""Per-dialect SQL for reading inside the JSON document (the part of filtering that differs).

SQLite: json_extract / json_each / json_type, plus the scim_fold() and scim_nfc() functions the
engine registers (Unicode-correct, matching ``schema.compare.comparison_key``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import Protocol

from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias

PathKey = str | int


def json_path(keys: Sequence[PathKey]) -> str:
    """``$."urn:…:User"."manager"[0]`` — every key quoted, so URNs and $ref are safe."""
    parts = ["$"]
    for key in keys:
        parts.append(f"[{key}]" if isinstance(key, int) else f'."{key}"')
    return "".join(parts)


class JsonDialect(Protocol):
    def extract(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]: ...

    def json_type(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]: ...

    def elements(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> TableValuedAlias: ...

    def array_length(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]: ...

    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]: ...

    def nfc(self, expr: ColumnElement[Any]) -> ColumnElement[Any]: ...

    def contains(self, expr: ColumnElement[Any], key: str) -> ColumnElement[bool]: ...

    def instant(self, expr: ColumnElement[Any]) -> ColumnElement[Any]: ...

    def boolean(self, value: bool) -> ColumnElement[Any]: ...


class SqliteJson:
    """JSON1 functions of SQLite."""

    def extract(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        return func.json_extract(base, json_path(keys))

    def json_type(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        return func.json_type(base, json_path(keys))

    def elements(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> TableValuedAlias:
        return func.json_each(base, json_path(keys)).table_valued("value").alias("je")

    def array_length(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        return func.json_array_length(base, json_path(keys))

    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.scim_fold(expr)

    def nfc(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.scim_nfc(expr)

    def contains(self, expr: ColumnElement[Any], key: str) -> ColumnElement[bool]:
        # instr() compares exactly (no LIKE wildcards to escape, no ASCII-only case folding).
        return func.instr(expr, key) > 0

    def instant(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.julianday(expr)

    def boolean(self, value: bool) -> ColumnElement[Any]:
        return literal(1 if value else 0)


SQLITE = SqliteJson()
