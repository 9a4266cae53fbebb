"""`scimhub db upgrade` and `scimhub tenant create/list/set/show`."""

from __future__ import annotations

import asyncio
import re

import click
import pytest

from scimhub.admin.cli import main
from scimhub.protocol.tenant_config import CACHE_SECONDS
from scimhub.protocol.tenant_config import setting_keys
from scimhub.store.database import open_database
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


def test_db_upgrade_migrates_a_new_database_and_is_idempotent(blank_url: str) -> None:
    cli = Cli(blank_url)

    assert cli.ok("db", "upgrade") == ["Database is at the newest revision."]
    assert _is_current(cli.database_url)
    assert cli.ok("db", "upgrade") == ["Database is at the newest revision."]


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
        assert Cli(blank_url).ok("tenant", "list") == []
        assert _is_current(blank_url)


def test_tenant_create_and_list(cli: Cli) -> None:
    created = cli.ok("tenant", "create", "globex")
    cli.ok("tenant", "create", "acme")

    match = re.fullmatch(r"Created tenant globex \(([0-9a-f-]{36})\)\.", created[0])
    assert match is not None, created
    assert created[1] == "Issue a token for it with: scimhub token issue globex"
    rows = [line.split("\t") for line in cli.ok("tenant", "list")]
    assert [r[1] for r in rows] == ["acme", "globex"]  # by name
    assert rows[1][0] == match.group(1)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", r[2]) for r in rows)


def test_tenant_create_refuses_a_duplicate_or_an_empty_name(cli: Cli) -> None:
    cli.ok("tenant", "create", "acme")

    duplicate = cli("tenant", "create", "acme")
    empty = cli("tenant", "create", "  ")

    assert duplicate.exit_code == 1
    assert duplicate.output == "Error: Tenant 'acme' already exists.\n"
    assert empty.exit_code == 1
    assert empty.output == "Error: A tenant name must not be empty.\n"
    assert len(cli.ok("tenant", "list")) == 1


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

    shown = dict(line.split("\t") for line in cli.ok("tenant", "show", "acme"))
    assert list(shown) == setting_keys()
    assert shown == {
        **dict.fromkeys(setting_keys(), "default"),
        "policy.string_booleans": "off",
        "policy.ignore_unknown_attributes": "off",
        "policy.remove_members_by_value": "on",
        "rate_limit": "20/second;1000/hour",
    }


def test_default_removes_an_override(cli: Cli, store: SqlStore) -> None:
    cli.ok("tenant", "create", "acme")
    cli.ok("tenant", "set", "acme", "rate_limit", "off")
    cli.ok("tenant", "set", "acme", "policy.string_booleans", "off")

    assert cli.ok("tenant", "set", "acme", "rate_limit", "default") == ["acme: rate_limit = default"]

    tenant = asyncio.run(store.tenant_by_name("acme"))
    assert tenant is not None
    assert asyncio.run(store.tenant_settings(tenant.id)) == {"policy.string_booleans": "off"}
    assert dict(line.split("\t") for line in cli.ok("tenant", "show", "acme"))["rate_limit"] == "default"


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
    assert set(dict(line.split("\t") for line in cli.ok("tenant", "show", "acme")).values()) == {"default"}


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
    expected |= {f"tenant {c}" for c in ("create", "list", "set", "show")}
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
