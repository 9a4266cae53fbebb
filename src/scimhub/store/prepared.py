"""Statements built once: a Core expression, plus its SQLite text compiled for the sqlite3 driver.

Both databases run the precompiled text on the driver (sqlite3; asyncpg, whose statement cache
prepares it once per connection), skipping SQLAlchemy's per-call construction and execution layers
(measured: sqlite3 14 µs vs ~100+ µs per lookup; through SQLAlchemy's asyncio layer a PostgreSQL
statement costs several hundred µs of CPU). A statement whose SQL differs per database (upserts,
JSON functions) gives its PostgreSQL form.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import cast

from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

# Called with (sql, parameters) before a prepared statement runs (tests watch the hot statements).
Observer = Callable[[str, Sequence[Any]], None]

_SQLITE = sqlite.dialect()
_POSTGRES = asyncpg.dialect()  # type: ignore[no-untyped-call]


class Prepared:
    """A statement and its texts: ``sql``/``names`` for sqlite3 (qmark parameters), ``pg_sql``/
    ``pg_names`` for asyncpg ($1, $2, …) from ``statement`` (its PostgreSQL form).

    Each text is compiled on first use, for the database in use only: the store's modules build
    ~30 of these, and compiling them all for both databases at import cost every CLI command
    ~20% of its start-up. Once compiled, a text is a plain slot read (``__getattr__`` runs only
    while the slot is empty).
    """

    __slots__ = ("_sqlite_form", "_sqlite_rewrite", "names", "pg_names", "pg_sql", "sql", "statement")

    sql: str
    names: tuple[str, ...]  # the bound-parameter names, in qmark order
    pg_sql: str
    pg_names: tuple[str, ...]

    def __init__(
        self, stmt: Executable, postgresql: Executable | None = None, sqlite_rewrite: Callable[[str], str] | None = None
    ) -> None:
        self._sqlite_form = stmt
        self._sqlite_rewrite = sqlite_rewrite  # applied to the SQLite text once compiled (an index hint)
        self.statement = stmt if postgresql is None else postgresql

    def __getattr__(self, name: str) -> Any:
        if name in ("sql", "names"):
            compiled = _compile(self._sqlite_form, _SQLITE)
            rewrite = self._sqlite_rewrite
            self.sql = compiled.string if rewrite is None else rewrite(compiled.string)
            self.names = tuple(compiled.positiontup or ())
        elif name in ("pg_sql", "pg_names"):
            compiled = _compile(self.statement, _POSTGRES)
            self.pg_sql, self.pg_names = compiled.string, tuple(compiled.positiontup or ())
        else:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self, name)


def prepare(
    stmt: Executable, *, postgresql: Executable | None = None, sqlite_rewrite: Callable[[str], str] | None = None
) -> Prepared:
    return Prepared(stmt, postgresql, sqlite_rewrite)


def _compile(stmt: Executable, dialect: object, **kwargs: Any) -> SQLCompiler:
    return cast(SQLCompiler, cast(ClauseElement, stmt).compile(dialect=dialect, **kwargs))  # type: ignore[arg-type]


def compile_once(stmt: Executable, *, postgresql: bool) -> tuple[str, list[Any]]:
    """A statement built for one query, compiled for the sqlite3 or asyncpg driver: its text and
    bound values in order. Statements that may scan are compiled this way in a thread (a filter of
    a hundred clauses takes tens of milliseconds to compile) and run on the driver."""
    compiled = _compile(stmt, _POSTGRES if postgresql else _SQLITE, compile_kwargs={"render_postcompile": True})
    values = compiled.construct_params()
    return compiled.string, [values[name] for name in compiled.positiontup or ()]


def parameters(
    sql: str, names: Sequence[str], rows: Sequence[Mapping[str, Any]], observers: Sequence[Observer]
) -> list[list[Any]]:
    """Each row's values in the statement's parameter order, shown to ``observers`` first."""
    values = [[row[n] for n in names] for row in rows]
    for observe in observers:
        for one in values:
            observe(sql, one)
    return values
