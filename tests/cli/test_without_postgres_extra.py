"""`pip install .` (no extras) must serve SQLite: nothing may import SQLAlchemy's asyncio layer,
which needs greenlet (part of the `postgres` extra), unless PostgreSQL is configured."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    sys.modules["greenlet"] = None  # as in an install without the postgres extra
    from scimhub.admin.cli import main  # the console script's import
    from scimhub.app import create_app
    from scimhub.protocol import tenants
    from scimhub.settings import Settings
    from scimhub.store.factory import open_store

    async def run() -> None:
        settings = Settings(database_url=f"sqlite:///{sys.argv[1]}", rate_limit="")
        store = open_store(settings)
        await store.db.upgrade()
        tenant = await tenants.create_tenant(store, "acme")
        await tenants.issue_token(store, tenant, None)
        create_app(settings, store=store)
        await store.close()

    asyncio.run(run())
    assert "sqlalchemy.ext.asyncio" not in sys.modules
    print("served without greenlet")
    """
)


def test_a_sqlite_install_needs_no_greenlet(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "plain.db")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "served without greenlet" in done.stdout
