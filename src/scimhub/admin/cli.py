"""The ``scimhub`` command line (click): serve, db, and the groups of admin/*_cli.py.

Each command imports what it needs when it runs (admin/common.py says why).
"""

from __future__ import annotations

import signal
from types import FrameType

import click

from scimhub import __version__
from scimhub.admin.attributes_cli import attribute
from scimhub.admin.common import open_store
from scimhub.admin.common import run
from scimhub.admin.roles_cli import role
from scimhub.admin.safety_cli import register as register_safety
from scimhub.admin.schema_cli import schema
from scimhub.admin.setup_cli import register as register_setup
from scimhub.admin.streams_cli import stream
from scimhub.admin.sync_cli import events
from scimhub.admin.sync_cli import requests_cmd
from scimhub.admin.sync_cli import webhook
from scimhub.admin.tenants_cli import tenant
from scimhub.admin.tokens_cli import token
from scimhub.settings import Settings


@click.group()
@click.version_option(__version__, prog_name="scimhub")
def main() -> None:
    """scimhub: a multi-tenant SCIM 2.0 provisioning server.

    The database is chosen by SCIMHUB_DATABASE_URL (default: sqlite:///scimhub.db).
    """
    try:
        Settings.from_env()  # a bad SCIMHUB_* value: one clear line, not a traceback
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1, SCIMHUB_HOST).")
@click.option("--port", default=None, type=int, help="Port (default 8000, SCIMHUB_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Run the SCIM server (base URL http://HOST:PORT/scim/v2)."""
    import uvicorn

    from scimhub.app import create_app
    from scimhub.collector import tune_for_serving
    from scimhub.observability import configure_standalone_logging

    settings = Settings.from_env(host=host, port=port)
    store = open_store(settings)
    if not run(store.list_tenants()):
        click.echo(
            "No tenant exists yet. Create one and a bearer token for your identity provider:\n"
            "  scimhub tenant create acme\n"
            "  scimhub token issue acme\n",
            err=True,
        )
    click.echo(f"SCIM base URL: http://{settings.host}:{settings.port}/scim/v2", err=True)
    configure_standalone_logging(settings.log_level)
    # uvicorn re-raises the SIGTERM it handled once the graceful shutdown is done; that re-raise
    # (or a SIGTERM before uvicorn starts) ends the process normally, with status 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    # Our access log (JSON, with tenant and request id) replaces uvicorn's; on SIGTERM uvicorn
    # stops accepting, lets in-flight requests finish, then the lifespan stops the worker.
    app = create_app(settings, store=store)
    tune_for_serving()  # after the app is built: what start-up made is frozen
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations up to the newest revision, and say which were applied."""
    from scimhub.store import migrate
    from scimhub.store.factory import database_for

    database = database_for(Settings.from_env())

    async def upgrade() -> list[str]:
        try:
            return await database.upgrade()
        finally:
            await database.dispose()

    applied = run(upgrade())
    for revision in applied:
        click.echo(f"Applied {revision}: {migrate.describe(revision)}")
    head = migrate.head_revision()
    click.echo(f"The database is now at {head}." if applied else f"The database is already at {head} (the newest).")


register_safety(tenant)
register_setup(tenant)
main.add_command(tenant)
main.add_command(token)
main.add_command(webhook)
main.add_command(events)
main.add_command(requests_cmd)
main.add_command(schema)
main.add_command(stream)
main.add_command(attribute)
main.add_command(role)
