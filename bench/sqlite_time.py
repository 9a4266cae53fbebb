"""How much of a request's CPU is SQLite's own: the writer connection's statements, timed.

``install()`` (before the app opens its store) gives the writer (``store.sqlite``) a connection
class whose statements (``execute``, ``executemany`` and the fetches that step them, on the
connection and on its cursors, SQLAlchemy's included) add their time to ``SPENT``. Every write
and, between writes, every hot read (``SqliteDatabase.peek``/``fast``) runs on that connection, on
the event loop's thread, so the wall time of each call is its CPU there (a quiet machine: the
thread is not preempted in a call of a few µs). The checkpoint thread's copying is not counted.

Used by ``python -m bench.asgi_hotpath --sqlite-time``: what is left of a request's CPU when
SQLite's is taken away is what Python (and the ASGI chain) costs.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from typing import TypeVar

from scimhub.store import sqlite as writer_module

_clock = time.perf_counter_ns
_T = TypeVar("_T")


@dataclass(slots=True)
class Spent:
    """Nanoseconds in SQLite calls and the number of statements run (execute/executemany)."""

    ns: int = 0
    statements: int = 0

    def reset(self) -> tuple[int, int]:
        taken = (self.ns, self.statements)
        self.ns = self.statements = 0
        return taken


SPENT = Spent()


def _timed(call: Callable[..., _T], *args: Any, statements: int = 0) -> _T:
    """``call(*args)``, its time (and ``statements`` statements) added to ``SPENT``."""
    start = _clock()
    try:
        return call(*args)
    finally:
        SPENT.ns += _clock() - start
        SPENT.statements += statements


class _TimedCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> _TimedCursor:
        return _timed(super().execute, sql, parameters, statements=1)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _TimedCursor:
        return _timed(super().executemany, sql, seq_of_parameters, statements=1)

    def fetchone(self) -> Any:
        return _timed(super().fetchone)

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        return _timed(super().fetchmany, size)

    def fetchall(self) -> list[Any]:
        return _timed(super().fetchall)


class _TimedWriterConnection(writer_module._WriterConnection):
    def cursor(self, factory: Any = _TimedCursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> _TimedCursor:
        cursor: _TimedCursor = self.cursor()
        return cursor.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> _TimedCursor:
        cursor: _TimedCursor = self.cursor()
        return cursor.executemany(sql, parameters)


_PLAIN = writer_module._WriterConnection


def install() -> None:
    """Time the writer connections opened from now on."""
    writer_module._WriterConnection = _TimedWriterConnection  # type: ignore[misc]


def uninstall() -> None:
    """Writer connections opened from now on are plain again."""
    writer_module._WriterConnection = _PLAIN  # type: ignore[misc]
