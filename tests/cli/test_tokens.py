"""`scimhub token issue/list/revoke/rotate`, checked through an app on the same database."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

from scimhub.app import create_app
from scimhub.auth.tokens import display_prefix
from scimhub.auth.tokens import well_formed
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.cli.support import Cli
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for

pytestmark = pytest.mark.anyio

HEADER = ["id", "prefix", "created", "last_used", "expires", "revoked"]


def _close_to(text: str, expected: datetime, slack: timedelta = timedelta(minutes=1)) -> bool:
    return abs(datetime.fromisoformat(text) - expected) < slack


async def _status(settings: Settings, store: SqlStore, token: str) -> int:
    async with client_for(create_app(settings, store=store), token) as client:
        return (await client.get("/Users")).status_code


def _issue(cli: Cli, *options: str) -> tuple[str, str, list[str]]:
    """(token id, token, output lines) of ``scimhub token issue acme``."""
    lines = cli.ok("token", "issue", "acme", *options)
    match = re.match(r"Token id ([0-9a-f-]{36}) for tenant acme", lines[0])
    assert match is not None, lines
    return match.group(1), lines[-1], lines


def _tokens(cli: Cli) -> list[dict[str, str]]:
    lines = cli.ok("token", "list", "acme")
    assert lines[0].split("\t") == HEADER
    return [dict(zip(HEADER, line.split("\t"), strict=True)) for line in lines[1:]]


@pytest.fixture
def acme_cli(cli: Cli) -> Cli:
    cli.ok("tenant", "create", "acme")
    return cli


async def test_token_issue_prints_the_token_alone_on_the_last_line_and_it_works(
    acme_cli: Cli, settings: Settings, store: SqlStore
) -> None:
    token_id, token, lines = _issue(acme_cli)

    assert lines == [f"Token id {token_id} for tenant acme. It is shown only now:", token]
    assert well_formed(token)
    assert await _status(settings, store, token) == 200
    assert token not in "\n".join(acme_cli.ok("token", "list", "acme"))  # shown only once


def test_token_issue_with_an_expiry(acme_cli: Cli) -> None:
    _, token, lines = _issue(acme_cli, "--expires-in", "7")

    expires = re.search(r", expires (\S+)\. It is shown only now:$", lines[0])
    assert expires is not None, lines
    assert _close_to(expires.group(1), datetime.now(UTC) + timedelta(days=7))
    assert well_formed(token)
    (row,) = _tokens(acme_cli)
    assert row["expires"] == expires.group(1)


@pytest.mark.parametrize("days", ["0", "-1", "soon"])
def test_token_issue_refuses_a_bad_expiry(acme_cli: Cli, days: str) -> None:
    result = acme_cli("token", "issue", "acme", "--expires-in", days)

    assert result.exit_code == 2
    assert "Invalid value for '--expires-in'" in result.output
    assert _tokens(acme_cli) == []


def test_token_issue_for_an_unknown_tenant(cli: Cli) -> None:
    result = cli("token", "issue", "nosuch")

    assert result.exit_code == 1
    assert "No tenant named 'nosuch'" in result.output


async def test_token_list_columns(acme_cli: Cli, settings: Settings, store: SqlStore) -> None:
    first_id, first, _ = _issue(acme_cli)
    second_id, second, _ = _issue(acme_cli, "--expires-in", "30")
    await _status(settings, store, first)  # sets last_used
    acme_cli.ok("token", "revoke", second_id)

    rows = {row["id"]: row for row in _tokens(acme_cli)}

    assert set(rows) == {first_id, second_id}
    now = datetime.now(UTC)
    assert rows[first_id]["prefix"] == display_prefix(first)
    assert rows[second_id]["prefix"] == display_prefix(second)
    assert all(_close_to(r["created"], now) for r in rows.values())
    assert _close_to(rows[first_id]["last_used"], now)
    assert (rows[first_id]["expires"], rows[first_id]["revoked"]) == ("-", "-")
    assert rows[second_id]["last_used"] == "-"
    assert _close_to(rows[second_id]["expires"], now + timedelta(days=30))
    assert _close_to(rows[second_id]["revoked"], now)


async def test_token_revoke_then_the_token_gets_401(acme_cli: Cli, settings: Settings, store: SqlStore) -> None:
    token_id, token, _ = _issue(acme_cli)
    _, other, _ = _issue(acme_cli)
    assert await _status(settings, store, token) == 200

    assert acme_cli.ok("token", "revoke", token_id) == [
        f"Revoked token {token_id}; servers refuse it within their SCIMHUB_TOKEN_RECHECK_SECONDS (default 1 s)."
    ]

    async with client_for(create_app(settings, store=store), token) as client:
        error = assert_scim_error(await client.get("/Users"), 401)
    assert error["detail"] == "The bearer token has been revoked."
    assert await _status(settings, store, other) == 200  # the tenant's other token still works
    again = acme_cli("token", "revoke", token_id)
    assert again.exit_code == 1
    assert again.output == f"Error: No active token with id {token_id}.\n"


async def test_token_rotate_issues_a_new_token_and_gives_the_old_one_an_expiry(
    acme_cli: Cli, settings: Settings, store: SqlStore
) -> None:
    old_id, old, _ = _issue(acme_cli)

    lines = acme_cli.ok("token", "rotate", old_id, "--overlap", "2")

    new = lines[-1]
    match = re.fullmatch(
        rf"New token id ([0-9a-f-]{{36}}); token {old_id} stops working in 2 h\. It is shown only now:", lines[0]
    )
    assert match is not None, lines
    assert len(lines) == 2 and well_formed(new) and new != old
    rows = {row["id"]: row for row in _tokens(acme_cli)}
    assert _close_to(rows[old_id]["expires"], datetime.now(UTC) + timedelta(hours=2))
    assert rows[match.group(1)]["expires"] == "-"
    assert await _status(settings, store, new) == 200
    assert await _status(settings, store, old) == 200  # inside the overlap


async def test_token_rotate_without_overlap_ends_the_old_token_now(
    acme_cli: Cli, settings: Settings, store: SqlStore
) -> None:
    old_id, old, _ = _issue(acme_cli)

    new = (acme_cli.ok("token", "rotate", old_id, "--overlap", "0"))[-1]

    async with client_for(create_app(settings, store=store), old) as client:
        error = assert_scim_error(await client.get("/Users"), 401)
    assert error["detail"] == "The bearer token has expired."
    assert await _status(settings, store, new) == 200


def test_token_rotate_default_overlap_and_bad_input(acme_cli: Cli) -> None:
    old_id, _, _ = _issue(acme_cli)

    assert "stops working in 24 h" in acme_cli.ok("token", "rotate", old_id)[0]
    unknown = acme_cli("token", "rotate", "no-such-token")
    negative = acme_cli("token", "rotate", old_id, "--overlap", "-1")

    assert unknown.exit_code == 1
    assert unknown.output == "Error: No active token with id no-such-token.\n"
    assert negative.exit_code == 2
    assert "Invalid value for '--overlap'" in negative.output
    assert len(_tokens(acme_cli)) == 2
