"""`scimhub requests TENANT [--failed] [--limit N] [--bodies]`: the request log on the command line."""

from __future__ import annotations

import dataclasses
import re

import pytest

from scimhub.app import create_app
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.cli.support import Cli
from tests.conftest import TenantAccess
from tests.events.support import running
from tests.http.scim_checks import client_for
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import user_body

pytestmark = pytest.mark.anyio

LINE = re.compile(r"(\S+)  (\d{3})  (\w+) (\S+)  (\d+) ms(?:  (.*))?")


async def _traffic(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    """A few requests through a running app; stopping it flushes the request log to the database."""
    app = create_app(dataclasses.replace(settings, worker_enabled=False), store=store)
    async with running(app), client_for(app, acme.token) as client:
        created = await client.post("/Users", json=user_body("bjensen", password="Hunter2-Secret!"))
        await client.post("/Users", json=user_body("bjensen"))
        await client.get("/Users", params={"filter": 'userName eq "bjensen"'})
        await client.patch(f"/Users/{created.json()['id']}", json=patch_body({"op": "jump"}))


async def test_requests_lists_the_newest_first(
    cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    await _traffic(settings, store, acme)

    lines = cli.ok("requests", "acme")

    parsed = [LINE.fullmatch(line) for line in lines]
    assert all(parsed), lines
    assert [(m[3], m[2]) for m in parsed if m] == [("PATCH", "400"), ("GET", "200"), ("POST", "409"), ("POST", "201")]
    assert parsed[1] is not None and parsed[1][4] == "/scim/v2/Users?filter=userName+eq+%22bjensen%22"
    assert parsed[2] is not None and parsed[2][6].startswith("uniqueness: ")
    assert parsed[3] is not None and parsed[3][6] is None  # no error on a success


async def test_requests_failed_limit_and_bodies(
    cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    await _traffic(settings, store, acme)

    failed = cli.ok("requests", "acme", "--failed")
    limited = cli.ok("requests", "acme", "--limit", "1")
    bodies = cli.ok("requests", "acme", "--bodies", "--limit", "4")

    assert [line.split("  ")[1] for line in failed] == ["400", "409"]
    assert "invalidValue: Operations[0].op must be add, replace or remove; got 'jump'." in failed[0]
    assert len(limited) == 1 and "  PATCH " in limited[0]
    assert len(bodies) == 12
    assert bodies[1].startswith("    request:  {") and bodies[2].startswith("    response: {")
    create_request = bodies[10]
    assert '"password":"[redacted]"' in create_request
    assert "Hunter2-Secret!" not in "\n".join(bodies)
    assert bodies[4] == "    request:  -"  # a GET has no body


async def test_requests_of_another_tenant_or_an_unknown_one(
    cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    await _traffic(settings, store, acme)

    assert cli.ok("requests", "globex") == []
    unknown = cli("requests", "nosuch")
    assert unknown.exit_code == 1
    assert "No tenant named 'nosuch'" in unknown.output
    bad_limit = cli("requests", "acme", "--limit", "0")
    assert bad_limit.exit_code == 2
