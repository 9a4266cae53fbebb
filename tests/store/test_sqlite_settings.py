"""The pragmas every SQLite connection scimhub opens runs with (store/sqlite.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from scimhub.store.sqlite import configure


@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
def test_a_connection_runs_in_wal_mode_with_large_checkpoints(tmp_path: Path, synchronous: str) -> None:
    conn = sqlite3.connect(tmp_path / "settings.db")
    configure(conn, synchronous)
    pragma = {
        name: conn.execute(f"PRAGMA {name}").fetchone()[0]
        for name in (
            "journal_mode",
            "foreign_keys",
            "busy_timeout",
            "wal_autocheckpoint",
            "journal_size_limit",
            "synchronous",
        )
    }
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 10000,
        "wal_autocheckpoint": 10000,
        "journal_size_limit": 64 * 1024 * 1024,
        "synchronous": {"NORMAL": 1, "FULL": 2}[synchronous],
    }
    conn.close()
