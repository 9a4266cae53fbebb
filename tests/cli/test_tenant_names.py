"""Tenant names are slugs (they are typed in shell commands and sit in admin API paths); names made
before the rule keep working until `scimhub tenant rename` gives them a valid one; hints are shell-quoted."""

from __future__ import annotations

import asyncio
import shlex
import uuid

import pytest

from scimhub.app import create_app
from scimhub.errors import Conflict
from scimhub.protocol import tenants
from scimhub.protocol.tenants import TENANT_NAME_RULE
from scimhub.settings import Settings
from scimhub.store.base import Tenant
from scimhub.store.sql import SqlStore
from tests.cli.support import Cli
from tests.http.scim_checks import client_for

HEADER = "id\tname\tcreated\tstate"
LEGACY = "Bad Name/x"  # accepted by `tenant create` before the rule


def _names(cli: Cli) -> list[str]:
    header, *rows = cli.ok("tenant", "list")
    assert header == HEADER
    return [row.split("\t")[1] for row in rows]


def _legacy(store: SqlStore, name: str = LEGACY) -> Tenant:
    """A tenant whose name predates the rule (written as the store took any name then)."""
    tenant = Tenant(str(uuid.uuid4()), name, "2026-01-01T00:00:00+00:00")
    asyncio.run(store.create_tenant(tenant))
    return tenant


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("bad name/x", "bad-name-x"),
        ("Acme", "acme"),
        ("-acme", "acme"),
        ("acme corp", "acme-corp"),
        ("a" * 64, "a" * 63),
        ("acme\n", "acme"),
        ("ümlaut", "mlaut"),
        ("", None),
        ("  ", None),
        ("a/b", "a-b"),
        ("a;rm -rf", "a-rm--rf"),
    ],
)
def test_tenant_create_refuses_a_name_that_is_not_a_slug_and_creates_nothing(
    cli: Cli, name: str, suggestion: str | None
) -> None:
    result = cli("tenant", "create", "--", name)  # "--": "-acme" is a name, not an option

    assert result.exit_code == 2, result.output  # a usage error
    hint = f" (e.g. {suggestion!r})" if suggestion else ""
    expected = f"{name!r} is not a valid tenant name{hint}: use {TENANT_NAME_RULE}."
    assert expected.split() == " ".join(result.stderr.split()).split("Error: Invalid value for NAME: ")[1].split()
    assert _names(cli) == []


@pytest.mark.parametrize("name", ["a", "7", "a" * 63, "acme.prod_eu-1", "0-0"])
def test_tenant_create_accepts_every_slug(cli: Cli, name: str) -> None:
    assert cli.ok("tenant", "create", name)[1] == f"Issue a token for it with: scimhub token issue {name}"
    assert _names(cli) == [name]


def test_the_rule_says_which_characters() -> None:
    assert TENANT_NAME_RULE == (
        "1 to 63 characters: lower-case letters a-z, digits 0-9, '.', '_' and '-', starting with a letter or digit"
    )
    help_text = " ".join(Cli("sqlite://")("tenant", "create", "--help").output.split())
    assert "1 to 63 characters, lower-case letters a-z, digits 0-9, '.', '_' and '-'" in help_text


def test_a_tenant_named_before_the_rule_keeps_working(cli: Cli, store: SqlStore) -> None:
    legacy = _legacy(store)

    issued = cli("token", "issue", LEGACY)
    shown = cli("tenant", "show", LEGACY)

    assert issued.exit_code == 0, issued.output
    assert shown.exit_code == 0, shown.output
    assert _names(cli) == [LEGACY]
    assert [t.tenant_id for t in asyncio.run(store.list_tokens(legacy.id))] == [legacy.id]


def test_tenant_list_tells_how_to_rename_a_name_before_the_rule_shell_quoted(cli: Cli, store: SqlStore) -> None:
    _legacy(store)
    _legacy(store, "it's")
    cli.ok("tenant", "create", "acme")

    result = cli("tenant", "list")

    assert result.exit_code == 0
    hints = result.stderr.splitlines()
    assert len(hints) == 2
    commands = [shlex.split(hint.split(": ", 1)[1]) for hint in hints]
    assert commands == [
        ["scimhub", "tenant", "rename", "Bad Name/x", "NEW_NAME"],
        ["scimhub", "tenant", "rename", "it's", "NEW_NAME"],
    ]
    assert hints[0] == (
        "Tenant 'Bad Name/x' predates the tenant name rule; give it a valid name: "
        "scimhub tenant rename 'Bad Name/x' NEW_NAME"
    )


@pytest.mark.anyio
async def test_tenant_rename_changes_only_the_name_and_the_token_keeps_working(
    cli: Cli, settings: Settings, store: SqlStore
) -> None:
    legacy = Tenant(str(uuid.uuid4()), LEGACY, "2026-01-01T00:00:00+00:00")
    await store.create_tenant(legacy)  # as the store took any name before the rule
    _, token = await tenants.issue_token(store, legacy, None)
    await store.set_tenant_setting(legacy.id, "rate_limit", "off")

    lines = cli.ok("tenant", "rename", LEGACY, "legacy")

    assert lines == [f"Renamed tenant {LEGACY!r} to 'legacy' ({legacy.id})."]
    assert await store.tenant_by_name("legacy") == Tenant(legacy.id, "legacy", legacy.created_at)
    assert await store.tenant_by_name(LEGACY) is None
    assert await store.tenant_settings(legacy.id) == {"rate_limit": "off"}
    async with client_for(create_app(settings, store=store), token) as client:
        assert (await client.get("/Users")).status_code == 200


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["acme", "Globex Inc"], 2, "'Globex Inc' is not a valid tenant name (e.g. 'globex-inc'): use 1 to 63"),
        (["acme", "globex"], 1, "Error: Tenant 'globex' already exists."),
        (["nosuch", "other"], 1, "Error: No tenant named 'nosuch'; create it with: scimhub tenant create nosuch"),
        (["no such", "other"], 1, "Error: No tenant named 'no such'\n"),
    ],
)
def test_tenant_rename_refuses_a_bad_or_taken_name_or_an_unknown_tenant(
    cli: Cli, args: list[str], exit_code: int, message: str
) -> None:
    cli.ok("tenant", "create", "acme")
    cli.ok("tenant", "create", "globex")

    result = cli("tenant", "rename", *args)

    assert result.exit_code == exit_code, result.output
    assert message in " ".join(result.output.split(" ")).replace("\n  ", " ")
    assert _names(cli) == ["acme", "globex"]


def test_renaming_a_tenant_to_its_own_name_changes_nothing(cli: Cli) -> None:
    cli.ok("tenant", "create", "acme")

    assert cli.ok("tenant", "rename", "acme", "acme")[0].startswith("Renamed tenant 'acme' to 'acme'")
    assert _names(cli) == ["acme"]


def test_an_unknown_name_gets_a_create_hint_only_when_it_could_be_created(cli: Cli) -> None:
    valid = cli("token", "issue", "nosuch")
    invalid = cli("token", "issue", "No Such")

    assert valid.output == "Error: No tenant named 'nosuch'; create it with: scimhub tenant create nosuch\n"
    assert invalid.output == "Error: No tenant named 'No Such'\n"


@pytest.mark.anyio
async def test_the_store_refuses_a_rename_to_a_taken_name_it_did_not_see_coming(store: SqlStore) -> None:
    # Two renames racing past the check: the unique index decides, the loser gets a Conflict.
    acme = await tenants.create_tenant(store, "acme")
    globex = await tenants.create_tenant(store, "globex")

    with pytest.raises(Conflict) as refused:
        await store.rename_tenant(acme.id, "globex")

    assert refused.value.detail == "Tenant 'globex' already exists."

    assert await store.tenant_by_name("acme") == acme
    assert await store.tenant_by_name("globex") == globex
