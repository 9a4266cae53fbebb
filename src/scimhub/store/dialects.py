"""Per-database SQL for reading inside the JSON document (the part of filtering that differs).

SQLite reads ``resources.doc`` with JSON1 (json_extract / json_each / json_type) and folds values
with the scim_fold() and scim_nfc() functions the engine registers (Unicode-correct, matching
``schema.compare.comparison_key``).

PostgreSQL reads ``resources.doc_keys``, a JSONB copy of the document whose strings are already
comparison keys (computed in Python when the resource is written), so no folding happens in SQL
and results agree with the in-memory evaluator for every Unicode string; ``eq`` on any attribute
is a containment test that the GIN index on that column serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import Protocol

import orjson
from sqlalchemy import Float
from sqlalchemy import Text
from sqlalchemy import case
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import literal_column
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias

from scimhub.schema.compare import WIDTH_MAP
from scimhub.store.tables import resources

PathKey = str | int


def json_path(keys: Sequence[PathKey]) -> str:
    """``$."urn:…:User"."manager"[0]`` — every key quoted, so URNs and $ref are safe."""
    parts = ["$"]
    for key in keys:
        parts.append(f"[{key}]" if isinstance(key, int) else f'."{key}"')
    return "".join(parts)


class JsonDialect(Protocol):
    # What filters and sorts read: the document (SQLite) or its comparison-key copy (PostgreSQL).
    document: ColumnElement[Any]
    string_type: str  # the json_type()/jsonb_typeof() name of a string

    def extract(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        """A scalar as SQL text or number (NULL when absent)."""
        ...

    def node(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        """A JSON value (object, array or scalar) that ``extract`` can read further."""
        ...

    def json_type(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]: ...

    def elements(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> TableValuedAlias: ...

    def scalar(self, element: ColumnElement[Any]) -> ColumnElement[Any]:
        """An element of ``elements`` as a scalar."""
        ...

    def array_length(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]: ...

    def key(self, value: ColumnElement[Any], case_exact: bool) -> ColumnElement[Any]:
        """The comparison key of a string read from ``document``."""
        ...

    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """The case-insensitive comparison key of a plain text column."""
        ...

    def contains(self, expr: ColumnElement[Any], key: str) -> ColumnElement[bool]: ...

    def starts_with(self, expr: ColumnElement[Any], key: str) -> ColumnElement[bool]: ...

    def ends_with(self, expr: ColumnElement[Any], key: str) -> ColumnElement[bool]: ...

    def instant(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """A dateTime as a number that orders like the instant."""
        ...

    def number(self, expr: ColumnElement[Any]) -> ColumnElement[Any]: ...

    def boolean(self, value: bool) -> ColumnElement[Any]: ...

    def containment(self, keys: Sequence[PathKey], multi_valued: bool, key: str) -> ColumnElement[bool] | None:
        """``document`` holds string ``key`` at ``keys``, as an index probe where the database has one."""
        ...


class SqliteJson:
    """JSON1 functions of SQLite."""

    document: ColumnElement[Any] = resources.c.doc
    string_type = "text"

    def extract(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        return func.json_extract(base, json_path(keys))

    def node(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        return func.json_extract(base, json_path(keys))

    def json_type(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        return func.json_type(base, json_path(keys))

    def elements(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> TableValuedAlias:
        return func.json_each(base, json_path(keys)).table_valued("value").alias("je")

    def scalar(self, element: ColumnElement[Any]) -> ColumnElement[Any]:
        return element

    def array_length(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        return func.json_array_length(base, json_path(keys))

    def key(self, value: ColumnElement[Any], case_exact: bool) -> ColumnElement[Any]:
        return func.scim_nfc(value) if case_exact else func.scim_fold(value)

    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.scim_fold(expr)

    def contains(self, expr: ColumnElement[Any], key: str) -> ColumnElement[bool]:
        # instr() compares exactly (no LIKE wildcards to escape, no ASCII-only case folding).
        return func.instr(expr, key) > 0

    def starts_with(self, expr: ColumnElement[Any], key: str) -> ColumnElement[bool]:
        return func.substr(expr, 1, len(key)) == key

    def ends_with(self, expr: ColumnElement[Any], key: str) -> ColumnElement[bool]:
        return func.substr(expr, -len(key)) == key

    def instant(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.julianday(expr)

    def number(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return expr

    def boolean(self, value: bool) -> ColumnElement[Any]:
        return literal(1 if value else 0)

    def containment(self, keys: Sequence[PathKey], multi_valued: bool, key: str) -> ColumnElement[bool] | None:
        return None


_WIDE_FROM = "".join(chr(code) for code in WIDTH_MAP)
_WIDE_TO = "".join(WIDTH_MAP.values())


def _pg_path(keys: Sequence[PathKey]) -> ColumnElement[Any]:
    return literal([str(k) for k in keys], ARRAY(Text))


class PostgresJson:
    """jsonb operators of PostgreSQL, on the comparison-key document."""

    document: ColumnElement[Any] = resources.c.doc_keys
    string_type = "string"

    def extract(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        return base.op("#>>", return_type=Text)(_pg_path(keys))

    def node(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        return base.op("#>", return_type=JSONB)(_pg_path(keys))

    def json_type(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        return func.jsonb_typeof(self.node(base, keys))

    def _array(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        # Arrays only: the jsonb array functions raise on a scalar or an object.
        node = self.node(base, keys)
        return case((func.jsonb_typeof(node) == "array", node))

    def elements(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> TableValuedAlias:
        return func.jsonb_array_elements(self._array(base, keys)).table_valued("value").alias("je")

    def scalar(self, element: ColumnElement[Any]) -> ColumnElement[Any]:
        return element.op("#>>", return_type=Text)(literal_column("'{}'"))

    def array_length(self, base: ColumnElement[Any], keys: Sequence[PathKey]) -> ColumnElement[Any]:
        return func.jsonb_array_length(self._array(base, keys))

    def key(self, value: ColumnElement[Any], case_exact: bool) -> ColumnElement[Any]:
        return value  # doc_keys holds comparison keys already

    def fold(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        # Plain columns (a member's display): the closest SQL has to ``schema.compare.fold``:
        # the width mapping (one character each, so translate() is exact), NFC, lower().
        mapped = func.translate(expr, literal(_WIDE_FROM, Text), literal(_WIDE_TO, Text))
        return func.lower(func.normalize(mapped, literal_column("NFC")))

    def contains(self, expr: ColumnElement[Any], key: str) -> ColumnElement[bool]:
        return func.strpos(expr, key) > 0  # exact: no LIKE wildcards to escape

    def starts_with(self, expr: ColumnElement[Any], key: str) -> ColumnElement[bool]:
        return func.left(expr, len(key)) == key

    def ends_with(self, expr: ColumnElement[Any], key: str) -> ColumnElement[bool]:
        return func.right(expr, len(key)) == key

    def instant(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return cast(func.extract("epoch", cast(expr, TIMESTAMP(timezone=True))), Float)

    def number(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return cast(expr, Float)

    def boolean(self, value: bool) -> ColumnElement[Any]:
        return literal("true" if value else "false")

    def containment(self, keys: Sequence[PathKey], multi_valued: bool, key: str) -> ColumnElement[bool] | None:
        # keys [name, familyName] → {"name": {"familyName": k}}; for the multi-valued attribute
        # (the first key, or the one after an extension URN) [emails, value] →
        # {"emails": [{"value": k}]}: jsonb containment matches any element.
        names = list(keys)
        attr_index = 1 if isinstance(names[0], str) and names[0].startswith("urn:") else 0
        value: Any = key
        for index in range(len(names) - 1, -1, -1):
            value = {names[index]: [value] if multi_valued and index == attr_index else value}
        probe = literal(orjson.dumps(value).decode(), Text)
        return resources.c.doc_keys.op("@>", is_comparison=True)(cast(probe, JSONB))


SQLITE = SqliteJson()
POSTGRES = PostgresJson()
