"""Fixtures of the store tests that run on a SQLite file of their own in both suite passes."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scimhub.store.database import SqliteDatabase
from scimhub.store.sqlite import create_sqlite_engine


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    """A SqliteDatabase (the Writer is SQLite's) on a file holding one table, t (k primary key, v)."""
    path = tmp_path / "writer.db"
    setup = sqlite3.connect(path)
    setup.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
    setup.close()
    database = SqliteDatabase(create_sqlite_engine(f"sqlite:///{path}"))
    yield database
    database.close()
