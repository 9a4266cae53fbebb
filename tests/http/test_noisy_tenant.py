"""One tenant cannot stall another with multi-valued attributes (issue 22, item 2).

``evil`` created a user with 30,000 emails (0.27 s), then a 90-byte PATCH adding one email held
the writer for 10.7 s, and ``acme``'s GET took 10.2 s; 1,000 filtered operations over 1,000
emails took 13 s. Each test runs the hostile request while ``acme`` reads a user every 5 ms, and
bounds acme's worst wait (a read, or a pause overrun because the event loop was held) at 0.5 s:
with the value cap, the linear PATCH and the comparison limit each hostile request takes a few ms.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from typing import Any

import httpx2
import orjson
import pytest

from scimhub.limits import DEFAULT_LIMITS
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.conftest import make_tenant
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_user
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import snapshot
from tests.http.scim_checks import user_body

pytestmark = pytest.mark.anyio

BOUND = 0.5  # seconds; the hostile requests took 10-13 s before
PAUSE = 0.005
CAP = DEFAULT_LIMITS.max_values_per_attribute


@pytest.fixture
async def evil(store: SqlStore, app: object) -> AsyncIterator[TenantAccess]:
    access = await make_tenant(store, app, "evil")
    async with access.client:
        yield access


@pytest.fixture
async def acme_user(acme: TenantAccess) -> str:
    return str((await create_user(acme.client, "bjensen"))["id"])


async def acme_worst_wait(
    acme: TenantAccess, user: str, hostile: Awaitable[httpx2.Response]
) -> tuple[httpx2.Response, float]:
    """The hostile response, and the longest acme waited while it ran."""
    stop = asyncio.Event()
    waits: list[float] = []

    async def poll() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            response = await acme.client.get(f"/Users/{user}")
            assert response.status_code == 200, response.text
            await asyncio.sleep(PAUSE)
            waits.append(time.perf_counter() - started - PAUSE)

    poller = asyncio.create_task(poll())
    await asyncio.sleep(0.02)  # acme is polling
    try:
        response = await hostile
    finally:
        stop.set()
        await poller
    return response, max(waits)


def emails(count: int) -> list[dict[str, Any]]:
    return [{"value": f"e{i}@evil.example", "type": "work"} for i in range(count)]


def send(client: httpx2.AsyncClient, method: str, url: str, body: Any) -> Awaitable[httpx2.Response]:
    """The request, its body encoded now: a real client encodes it in its own process, not on the
    server's event loop (httpx's stdlib encoding of 30,000 emails takes ~0.1 s)."""
    encoded = orjson.dumps(body)
    return client.request(method, url, content=encoded, headers={"Content-Type": "application/scim+json"})


async def test_a_user_with_30000_emails_is_refused_without_stalling_acme(
    acme: TenantAccess, acme_user: str, evil: TenantAccess
) -> None:
    before = await snapshot(evil.client)

    response, worst = await acme_worst_wait(
        acme, acme_user, send(evil.client, "POST", "/Users", user_body("evil", emails=emails(30_000)))
    )

    assert worst < BOUND, f"acme waited {worst:.2f} s"
    error = assert_scim_error(response, 400, "invalidValue")
    assert error["detail"] == f"'emails' has 30000 values; at most {CAP} are accepted in one attribute."
    assert await snapshot(evil.client) == before


async def test_patches_of_a_user_at_the_value_cap_do_not_stall_acme(
    acme: TenantAccess, acme_user: str, evil: TenantAccess
) -> None:
    user = await create_user(evil.client, "evil", emails=emails(CAP))
    url = f"/Users/{user['id']}"
    before = await snapshot(evil.client)

    one_more = send(evil.client, "PATCH", url, patch_body({"op": "add", "path": "emails", "value": [{"value": "x"}]}))
    refused, worst_refused = await acme_worst_wait(acme, acme_user, one_more)
    assert_scim_error(refused, 400, "invalidValue")
    assert await snapshot(evil.client) == before
    again_and_retype = patch_body(
        {"op": "add", "path": "emails", "value": emails(CAP)},
        {"op": "replace", "path": 'emails[value eq "e5@evil.example"].type', "value": "home"},
        {"op": "remove", "path": "emails", "value": [{"value": "e7@evil.example", "type": "work"}]},
    )
    accepted, worst_accepted = await acme_worst_wait(acme, acme_user, send(evil.client, "PATCH", url, again_and_retype))

    assert accepted.status_code == 200, accepted.text
    assert len(accepted.json()["emails"]) == CAP - 1
    assert accepted.json()["emails"][5] == {"value": "e5@evil.example", "type": "home"}
    assert max(worst_refused, worst_accepted) < BOUND, f"acme waited {worst_refused:.2f} s, {worst_accepted:.2f} s"


async def test_a_thousand_filters_over_a_full_attribute_do_not_stall_acme(
    acme: TenantAccess, acme_user: str, evil: TenantAccess
) -> None:
    user = await create_user(evil.client, "evil", emails=emails(CAP))
    before = await snapshot(evil.client)
    operations = [
        {"op": "replace", "path": f'emails[value eq "e{i}@evil.example"].type', "value": "home"} for i in range(1000)
    ]

    response, worst = await acme_worst_wait(
        acme, acme_user, send(evil.client, "PATCH", f"/Users/{user['id']}", patch_body(*operations))
    )

    assert worst < BOUND, f"acme waited {worst:.2f} s"
    error = assert_scim_error(response, 400, "invalidValue")
    assert error["detail"].startswith(f"This PATCH would make more than {DEFAULT_LIMITS.max_patch_comparisons} value")
    assert await snapshot(evil.client) == before


async def test_a_user_grown_by_patches_does_not_stall_acme(
    acme: TenantAccess, acme_user: str, evil: TenantAccess
) -> None:
    """Every body is within the limits, but the PATCHes add up: a 28 MB user took 1.7 s to PATCH."""
    user = await create_user(evil.client, "evil")
    url = f"/Users/{user['id']}"
    unfolded = "e\u0301" * 10_000  # not in NFC: the slowest string to fold
    answers, waits = [], []
    for step in range(12):  # ~0.9 MB each
        numbers = [{"value": f"{step}-{i}-{unfolded}", "type": "work"} for i in range(30)]
        body = patch_body({"op": "add", "path": "phoneNumbers", "value": numbers})
        response, worst = await acme_worst_wait(acme, acme_user, send(evil.client, "PATCH", url, body))
        answers.append(response)
        waits.append(worst)

    assert max(waits) < BOUND, f"acme waited {max(waits):.2f} s"
    assert answers[0].status_code == 200, answers[0].text
    for refused in answers[1:]:
        error = assert_scim_error(refused, 400, "invalidValue")
        assert error["detail"].endswith(f"bytes of JSON; at most {DEFAULT_LIMITS.max_resource_bytes} are accepted.")
