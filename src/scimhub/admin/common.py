"""What every ``scimhub`` command shares: running a step on an event loop, opening the store.

Every command pays for what this package imports before it runs, so modules here import only
click and light scimhub modules at the top; the store, the app, uvicorn and httpx2 are imported
inside the commands that use them (tests/cli/test_startup.py pins it).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import TypeVar

import click

from scimhub.errors import ScimError
from scimhub.settings import Settings

if TYPE_CHECKING:
    from scimhub.store.events_sql import Attempt
    from scimhub.store.sql import SqlStore

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    """Run one step on a loop of its own (PostgreSQL connections are closed before it ends)."""
    from scimhub.store.database import release_loop_connections

    async def wrapper() -> T:
        try:
            return await coro
        finally:
            await release_loop_connections()

    try:
        return asyncio.run(wrapper())
    except ScimError as exc:
        raise click.ClickException(exc.detail) from None


def open_store(settings: Settings) -> SqlStore:
    """The store, on a database at the newest revision (a SQLite one is migrated if it is behind)."""
    from scimhub.store.factory import open_store as open_sql_store

    store = open_sql_store(settings)
    if not run(store.db.is_current()):
        # PostgreSQL is shared by several instances: migrating it is a release step of its own.
        if settings.auto_migrate and store.db.name == "sqlite":
            applied = run(store.db.upgrade())
            click.echo(f"Migrated the database: applied {', '.join(applied)}.", err=True)
        else:
            raise click.ClickException("The database schema is not current; run: scimhub db upgrade")
    return store


def echo_delivery_log(attempts: Sequence[Attempt]) -> None:
    """A webhook's or SET stream's delivery log as a tab-separated table, with its header."""
    click.echo("attempted_at\tseq\tattempt\toutcome\tstatus\tlatency_ms\terror")
    for a in attempts:
        click.echo(
            f"{a.attempted_at}\t{a.seq}\t{a.attempt}\t{a.outcome.value}\t{a.status_code or '-'}\t"
            f"{a.latency_ms if a.latency_ms is not None else '-'}\t{a.error or '-'}"
        )


def echo_redelivered(attempts: Sequence[Attempt]) -> None:
    """Each redelivery's outcome; exits 1 when one was not delivered."""
    from scimhub.store.events_sql import Outcome

    if not attempts:
        click.echo("No dead letters to redeliver.")
    for a in attempts:
        click.echo(f"seq {a.seq}: {a.outcome.value} ({a.status_code or a.error})")
    if any(a.outcome is not Outcome.REDELIVERED for a in attempts):
        sys.exit(1)
