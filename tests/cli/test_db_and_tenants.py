"""`scimhub db upgrade` and `scimhub tenant create/list/set/show`."""

from __future__ import annotations

import asyncio
import re

import click
import pytest
from alembic import command
from alembic.script import Script
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from scimhub.admin.cli import main
from scimhub.admin.tenants_cli import BUILT_IN
from scimhub.admin.tenants_cli import TENANT_SETTING as TENANT
from scimhub.protocol.tenant_config import CACHE_SECONDS
from scimhub.protocol.tenant_config import setting_keys
from scimhub.store.database import open_database
from scimhub.store.migrate import alembic_config
from scimhub.store.sql import SqlStore
from tests import databases
from tests.cli.support import Cli


def _is_current(database_url: str) -> bool:
    async def check() -> bool:
        database = open_database(database_url)
        try:
            return await database.is_current()
        finally:
            await database.dispose()

    return asyncio.run(check())


def _alembic_history() -> list[Script]:
    """The revisions as Alembic reads them, oldest first (the oracle for what `db upgrade` says)."""
    return list(reversed(list(ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions())))


def _applied_lines(scripts: list[Script]) -> list[str]:
    return [f"Applied {s.revision}: {(s.doc or '').splitlines()[0]}" for s in scripts]


def test_db_upgrade_says_which_revisions_it_applied_and_then_that_it_is_current(blank_url: str) -> None:
    cli = Cli(blank_url)
    history = _alembic_history()
    head = history[-1].revision

    assert cli.ok("db", "upgrade") == [*_applied_lines(history), f"The database is now at {head}."]
    assert _is_current(cli.database_url)
    assert cli.ok("db", "upgrade") == [f"The database is already at {head} (the newest)."]


def test_db_upgrade_applies_only_the_revisions_a_database_lacks(blank_url: str) -> None:
    history = _alembic_history()

    async def upgrade_to(revision: str) -> None:
        database = open_database(blank_url)

        def upgrade(conn: Connection) -> None:
            config = alembic_config(blank_url)
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

        try:
            await databases.on_connection(SqlStore(database), upgrade)
        finally:
            await database.dispose()

    asyncio.run(upgrade_to(history[-3].revision))

    assert Cli(blank_url).ok("db", "upgrade") == [
        *_applied_lines(history[-2:]),
        f"The database is now at {history[-1].revision}.",
    ]


def test_commands_migrate_a_new_database_only_on_sqlite_unless_told_not_to(blank_url: str) -> None:
    refused = Cli(blank_url)("tenant", "list", SCIMHUB_AUTO_MIGRATE="false")
    assert refused.exit_code == 1
    assert "Error: The database schema is not current; run: scimhub db upgrade" in refused.output
    assert not _is_current(blank_url)

    if databases.on_postgres():
        # A PostgreSQL database is shared by instances: migrating it is a release step of its own.
        unmigrated = Cli(blank_url)("tenant", "list")
        assert unmigrated.exit_code == 1
        assert "Error: The database schema is not current; run: scimhub db upgrade" in unmigrated.output
        assert not _is_current(blank_url)
    else:
        migrated = Cli(blank_url)("tenant", "list")
        assert migrated.exit_code == 0, migrated.output
        assert migrated.stdout.splitlines() == ["id\tname\tcreated\tstate"]
        assert migrated.stderr.startswith("Migrated the database: applied 0001, 0002, ")
        assert _is_current(blank_url)


def test_tenant_create_and_list(cli: Cli) -> None:
    created = cli.ok("tenant", "create", "globex")
    cli.ok("tenant", "create", "acme")

    match = re.fullmatch(r"Created tenant globex \(([0-9a-f-]{36})\)\.", created[0])
    assert match is not None, created
    assert created[1] == "Issue a token for it with: scimhub token issue globex"
    header, *lines = cli.ok("tenant", "list")
    assert header == "id\tname\tcreated\tstate"  # like the token and webhook lists, and the sync state
    rows = [line.split("\t") for line in lines]
    assert [r[1] for r in rows] == ["acme", "globex"]  # by name
    assert rows[1][0] == match.group(1)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", r[2]) for r in rows)
    assert [r[3] for r in rows] == ["never_connected", "never_connected"]


def test_tenant_create_refuses_a_duplicate_name(cli: Cli) -> None:
    cli.ok("tenant", "create", "acme")

    duplicate = cli("tenant", "create", "acme")

    assert duplicate.exit_code == 1
    assert duplicate.output == "Error: Tenant 'acme' already exists.\n"
    assert len(cli.ok("tenant", "list")) == 2  # the header and acme


def test_tenant_set_and_show(cli: Cli) -> None:
    cli.ok("tenant", "create", "acme")

    assert cli.ok("tenant", "set", "acme", "policy.string_booleans", "OFF") == ["acme: policy.string_booleans = off"]
    assert cli.ok("tenant", "set", "acme", "policy.ignore_unknown_attributes", "false") == [
        "acme: policy.ignore_unknown_attributes = off"
    ]
    assert cli.ok("tenant", "set", "acme", "policy.remove_members_by_value", "true") == [
        "acme: policy.remove_members_by_value = on"
    ]
    assert cli.ok("tenant", "set", "acme", "rate_limit", "20/second;1000/hour") == [
        "acme: rate_limit = 20/second;1000/hour"
    ]

    shown = _show(cli, "acme")
    assert list(shown) == setting_keys()
    assert shown == {
        **dict.fromkeys(setting_keys(), ("on", BUILT_IN)),
        "policy.string_booleans": ("off", TENANT),
        "policy.ignore_unknown_attributes": ("off", TENANT),
        "policy.remove_members_by_value": ("on", TENANT),
        "rate_limit": ("20/second;1000/hour", TENANT),
        "guard.deprovision_threshold": ("off", BUILT_IN),
        "guard.window": ("1h", BUILT_IN),
        "users.inactive": ("keep", BUILT_IN),
    }


def test_default_removes_an_override(cli: Cli, store: SqlStore) -> None:
    cli.ok("tenant", "create", "acme")
    cli.ok("tenant", "set", "acme", "rate_limit", "off")
    cli.ok("tenant", "set", "acme", "policy.string_booleans", "off")

    assert cli.ok("tenant", "set", "acme", "rate_limit", "default") == ["acme: rate_limit = default"]

    tenant = asyncio.run(store.tenant_by_name("acme"))
    assert tenant is not None
    assert asyncio.run(store.tenant_settings(tenant.id)) == {"policy.string_booleans": "off"}
    assert _show(cli, "acme")["rate_limit"] == ("100/second;3000/minute", BUILT_IN)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["policy.no_such_switch", "on"], "Unknown tenant setting 'policy.no_such_switch'; known: policy."),
        (["colour", "blue"], "Unknown tenant setting 'colour'; known: "),
        (["colour", "default"], "Unknown tenant setting 'colour'; known: "),
        (["policy.string_booleans", "maybe"], "policy.string_booleans takes on or off, not 'maybe'."),
        (["rate_limit", "fast"], "'fast' is not a rate limit such as 600/minute or 20/second;1000/hour."),
        (["rate_limit", ""], "'' is not a rate limit such as 600/minute"),
    ],
)
def test_tenant_set_refuses_an_unknown_key_or_a_bad_value(cli: Cli, args: list[str], message: str) -> None:
    cli.ok("tenant", "create", "acme")

    result = cli("tenant", "set", "acme", *args)

    assert result.exit_code == 2, result.output  # a usage error
    assert message in " ".join(result.output.split())
    assert {source for _, source in _show(cli, "acme").values()} == {BUILT_IN}


def _show(cli: Cli, name: str, **env: str) -> dict[str, tuple[str, str]]:
    """`scimhub tenant show NAME`: key -> (value in force, source)."""
    header, *lines = cli.ok("tenant", "show", name, **env)
    assert header == "key\tvalue\tsource"
    return {key: (value, source) for key, value, source in (line.split("\t") for line in lines)}


def test_tenant_show_names_the_server_environment_when_it_sets_the_default(cli: Cli) -> None:
    cli.ok("tenant", "create", "acme")
    cli.ok("tenant", "set", "acme", "policy.string_booleans", "on")
    strict = "server environment (SCIMHUB_STRICT_RFC)"

    shown = _show(cli, "acme", SCIMHUB_STRICT_RFC="true", SCIMHUB_RATE_LIMIT="50/second")

    assert shown == {
        **dict.fromkeys(setting_keys(), ("off", strict)),
        "policy.string_booleans": ("on", TENANT),
        "rate_limit": ("50/second", "server environment (SCIMHUB_RATE_LIMIT)"),
        "guard.deprovision_threshold": ("off", BUILT_IN),
        "guard.window": ("1h", BUILT_IN),
        "users.inactive": ("keep", BUILT_IN),
    }


def test_tenant_show_says_a_tenant_rate_limit_is_unused_while_the_server_has_none(cli: Cli) -> None:
    cli.ok("tenant", "create", "acme")
    cli.ok("tenant", "set", "acme", "rate_limit", "1200/minute")

    assert _show(cli, "acme", SCIMHUB_RATE_LIMIT="")["rate_limit"] == (
        "off",
        "server environment (SCIMHUB_RATE_LIMIT is empty; the tenant setting 1200/minute applies only when it is set)",
    )
    assert _show(cli, "acme")["rate_limit"] == ("1200/minute", TENANT)


def test_tenant_commands_name_an_unknown_tenant(cli: Cli) -> None:
    for args in (["set", "nosuch", "rate_limit", "off"], ["show", "nosuch"]):
        result = cli("tenant", *args)
        assert result.exit_code == 1
        assert result.output == "Error: No tenant named 'nosuch'; create it with: scimhub tenant create nosuch\n"


def test_tenant_set_help_names_the_keys_and_the_cache_delay() -> None:
    help_text = " ".join(Cli("sqlite://")("tenant", "set", "--help").output.split())

    assert 'VALUE "default" removes the override' in help_text
    assert f"within {CACHE_SECONDS:g} seconds" in help_text
    assert "rate_limit" in help_text and "policy.<switch>" in help_text


def test_a_bad_scimhub_variable_is_one_clear_line(cli: Cli) -> None:
    result = cli("tenant", "list", SCIMHUB_PORT="eighty")

    assert result.exit_code == 1
    assert result.output == "Error: SCIMHUB_PORT must be an integer, got 'eighty'\n"


def test_a_short_admin_token_stops_the_cli_with_one_clear_line(cli: Cli) -> None:
    result = cli("tenant", "list", SCIMHUB_ADMIN_TOKEN="admin")

    assert result.exit_code == 1
    assert result.output == (
        "Error: SCIMHUB_ADMIN_TOKEN must be at least 32 characters, got 5; "
        "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'\n"
    )


def test_every_command_has_help() -> None:
    def walk(command: click.Command, path: list[str]) -> list[list[str]]:
        found = [path]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                found += walk(sub, [*path, name])
        return found

    paths = walk(main, [])
    names = {" ".join(p) for p in paths}
    expected = {"serve", "db upgrade", "requests", "events list"}
    expected |= {f"tenant {c}" for c in ("create", "list", "rename", "delete", "set", "show")}
    expected |= {f"token {c}" for c in ("issue", "list", "revoke", "rotate")}
    expected |= {f"webhook {c}" for c in ("add", "list", "remove", "log", "redeliver")}
    assert expected <= names
    for path in paths:
        result = Cli("sqlite://")(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert result.output.startswith("Usage: ")


def test_serve_help_documents_host_and_port() -> None:
    result = Cli("sqlite://")("serve", "--help")

    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--host TEXT Interface to bind (default 127.0.0.1, SCIMHUB_HOST)." in text
    assert "--port INTEGER Port (default 8000, SCIMHUB_PORT)." in text
    assert "http://HOST:PORT/scim/v2" in text
