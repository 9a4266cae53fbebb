"""`scimhub stream …`: streams and signing keys from the command line."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from scimhub.admin.cli import main
from scimhub.app import create_app
from scimhub.protocol import tenants
from scimhub.sets.streams import token_matches
from scimhub.settings import Settings
from scimhub.store.sets_sql import StreamStore
from scimhub.store.sql import SqlStore
from tests.events.support import create_user
from tests.http.scim_checks import client_for

ISSUER = "https://id.example.com/scim/v2"


@pytest.fixture
def cli(settings: Settings, store: SqlStore) -> CliRunner:
    asyncio.run(tenants.create_tenant(store, "acme"))
    return CliRunner(env={"SCIMHUB_DATABASE_URL": settings.database_url, "SCIMHUB_BASE_URL": None})


def _tenant_id(store: SqlStore) -> str:
    found = asyncio.run(store.tenant_by_name("acme"))
    assert found is not None
    return found.id


def test_a_poll_stream_prints_its_token_once_on_the_last_line(cli: CliRunner, store: SqlStore) -> None:
    result = cli.invoke(main, ["stream", "add", "acme", "--poll", "--audience", "rcv", "--issuer", ISSUER])

    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("sst_")
    (stored,) = asyncio.run(StreamStore(store.db).list_streams(_tenant_id(store)))
    assert stored.mode == "poll" and stored.issuer == ISSUER and stored.audience == "rcv"
    assert token_matches(stored, token) and not token_matches(stored, token + "x")
    assert f"/sets/v1/tenants/{stored.tenant_id}/jwks.json" in result.output


def test_push_streams_are_listed_and_removed(cli: CliRunner, store: SqlStore) -> None:
    added = cli.invoke(
        main,
        ["stream", "add", "acme", "--push", "https://r.example.com/sets", "--audience", "rcv", "--full"],
        env={"SCIMHUB_BASE_URL": ISSUER},
    )
    listed = cli.invoke(main, ["stream", "list", "acme"])
    stream_id = listed.output.splitlines()[1].split("\t")[0]
    removed = cli.invoke(main, ["stream", "remove", stream_id])
    again = cli.invoke(main, ["stream", "remove", stream_id])

    assert added.exit_code == 0, added.output
    assert "full events from seq 1" in added.output
    assert listed.output.splitlines()[1].split("\t")[1:5] == ["push", "https://r.example.com/sets", "rcv", "full"]
    assert removed.exit_code == 0 and f"Removed stream {stream_id}." in removed.output
    assert again.exit_code == 1 and "No stream with id" in again.output
    assert asyncio.run(StreamStore(store.db).list_streams(_tenant_id(store))) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--poll", "--audience", "a"], "Give --issuer (the tenant's SCIM base URL) or set SCIMHUB_BASE_URL."),
        (["--audience", "a", "--issuer", ISSUER], "Give exactly one of --push URL and --poll."),
        (["--poll", "--push", "https://r.example.com/", "--audience", "a", "--issuer", ISSUER], "Give exactly one"),
    ],
)
def test_a_stream_needs_one_delivery_mode_and_an_issuer(
    cli: CliRunner, store: SqlStore, args: list[str], message: str
) -> None:
    result = cli.invoke(main, ["stream", "add", "acme", *args])

    assert result.exit_code == 2
    assert message in result.output
    assert asyncio.run(StreamStore(store.db).list_streams(_tenant_id(store))) == []


def test_keys_rotate_and_retire(cli: CliRunner) -> None:
    cli.invoke(main, ["stream", "add", "acme", "--poll", "--audience", "a", "--issuer", ISSUER])
    rotated = cli.invoke(main, ["stream", "rotate-key", "acme"])
    keys = [line.split("\t") for line in cli.invoke(main, ["stream", "keys", "acme"]).output.splitlines()[1:]]
    refused = cli.invoke(main, ["stream", "retire-key", "acme", keys[1][0]])
    retired = cli.invoke(main, ["stream", "retire-key", "acme", keys[0][0]])
    after = [line.split("\t")[2] for line in cli.invoke(main, ["stream", "keys", "acme"]).output.splitlines()[1:]]

    assert rotated.exit_code == 0 and keys[1][0] in rotated.output
    assert [k[1:3] for k in keys] == [["ES256", "published"], ["ES256", "active"]]
    assert refused.exit_code == 1 and "the active key is never retired" in refused.output
    assert retired.exit_code == 0
    assert after == ["retired", "active"]


def test_stream_log_prints_the_latest_entries(cli: CliRunner, store: SqlStore) -> None:
    cli.invoke(main, ["stream", "add", "acme", "--poll", "--audience", "a", "--issuer", ISSUER, "--after", "0"])
    streams = StreamStore(store.db)
    (stream,) = asyncio.run(streams.list_streams(_tenant_id(store)))
    asyncio.run(_events(store, 3))
    asyncio.run(streams.acknowledge(stream, {1: None, 3: "invalid_key: unknown kid"}, "2026-12-07T09:00:00.000Z"))

    result = cli.invoke(main, ["stream", "log", stream.id, "--limit", "1"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == ["2026-12-07T09:00:00.000Z\t3\t1\tdead\t-\t-\tinvalid_key: unknown kid"]


async def _events(store: SqlStore, count: int) -> None:
    """``count`` events of acme, made through the real SCIM API."""
    app = create_app(Settings(database_url="unused", rate_limit=""), store=store)
    tenant = await store.tenant_by_name("acme")
    assert tenant is not None
    _, token = await tenants.issue_token(store, tenant, None)
    async with client_for(app, token) as client:
        for i in range(count):
            await create_user(client, f"user{i}")


def test_redeliver_needs_a_push_stream_and_says_when_nothing_is_dead(cli: CliRunner, store: SqlStore) -> None:
    cli.invoke(main, ["stream", "add", "acme", "--poll", "--audience", "a", "--issuer", ISSUER])
    cli.invoke(
        main, ["stream", "add", "acme", "--push", "https://r.example.com/", "--audience", "a", "--issuer", ISSUER]
    )
    by_mode = {s.mode: s for s in asyncio.run(StreamStore(store.db).list_streams(_tenant_id(store)))}
    polled, pushed = by_mode["poll"], by_mode["push"]

    refused = cli.invoke(main, ["stream", "redeliver", polled.id])
    nothing = cli.invoke(main, ["stream", "redeliver", pushed.id])

    assert refused.exit_code == 1 and f"No push stream with id {polled.id}." in refused.output
    assert nothing.exit_code == 0 and nothing.output == "No dead letters to redeliver.\n"
