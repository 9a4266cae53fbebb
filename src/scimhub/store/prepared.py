"""Statements built once: a Core expression, plus its SQLite text compiled for the sqlite3 driver.

SQLite runs the precompiled text on the driver, skipping SQLAlchemy's per-call construction and
execution layers (DESIGN.md: sqlite3 14 µs vs ~100+ µs per lookup). PostgreSQL runs the Core
expression through SQLAlchemy, whose compiled cache and asyncpg's prepared statements do the same.
A statement whose SQL differs per database (upserts, JSON functions) gives its PostgreSQL form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

_SQLITE = sqlite.dialect()


@dataclass(frozen=True, slots=True)
class Prepared:
    sql: str  # SQLite text with qmark parameters
    names: tuple[str, ...]  # the bound-parameter names, in qmark order
    statement: Executable  # what PostgreSQL executes


def prepare(stmt: Executable, *, postgresql: Executable | None = None) -> Prepared:
    compiled = cast(SQLCompiler, cast(ClauseElement, stmt).compile(dialect=_SQLITE))
    return Prepared(compiled.string, tuple(compiled.positiontup or ()), stmt if postgresql is None else postgresql)
