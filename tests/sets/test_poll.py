"""RFC 8936 poll streams: acks in any order, unacknowledged SETs handed out again, setErrs,
maxEvents, long polls, and the stream's own bearer token; bad requests change nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import anyio
import pytest

from tests.events.support import admin_client
from tests.events.support import create_user
from tests.events.support import running
from tests.sets.support import add_stream
from tests.sets.support import jwks
from tests.sets.support import poll
from tests.sets.support import public_client
from tests.sets.support import verify

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


def seqs(body: dict[str, Any]) -> list[int]:
    return sorted(int(j.rsplit(".", 1)[1]) for j in body["sets"])


async def cursor(app: object, stream: dict[str, Any]) -> int:
    async with admin_client(app) as admin:
        shown: int = (await admin.get(f"/tenants/acme/streams/{stream['id']}")).json()["deliveredSeq"]
    return shown


async def test_unacknowledged_sets_come_again_and_acks_move_the_cursor(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="poller")
    for name in ("a", "b", "c", "d"):
        await create_user(acme.client, name)

    first = (await poll(app, stream, returnImmediately=True, maxEvents=3)).json()
    jti = sorted(first["sets"], key=lambda j: int(j.rsplit(".", 1)[1]))
    again = (await poll(app, stream, returnImmediately=True, maxEvents=3)).json()
    out_of_order = (await poll(app, stream, returnImmediately=True, ack=[jti[1]], maxEvents=10)).json()
    cursor_after_gap = await cursor(app, stream)
    filled = (await poll(app, stream, returnImmediately=True, ack=[jti[0], jti[2]], maxEvents=10)).json()

    assert seqs(first) == [1, 2, 3] and first["moreAvailable"] is True
    assert seqs(again) == [1, 2, 3], "nothing was acknowledged: the same SETs again"
    assert seqs(out_of_order) == [1, 3, 4] and out_of_order["moreAvailable"] is False
    assert cursor_after_gap == 0, "seq 1 is not acknowledged yet"
    assert seqs(filled) == [4]
    assert await cursor(app, stream) == 3
    key_set = await jwks(app, acme.tenant_id)
    assert all(verify(t, key_set, "poller")["jti"] == j for j, t in first["sets"].items())


async def test_set_errors_acknowledge_and_are_logged(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="poller")
    await create_user(acme.client, "a")
    await create_user(acme.client, "b")
    (one, two) = sorted((await poll(app, stream, returnImmediately=True)).json()["sets"])

    response = await poll(
        app,
        stream,
        ack=[one],
        setErrs={two: {"err": "invalid_key", "description": "unknown kid"}},
        returnImmediately=True,
    )

    assert response.json() == {"sets": {}, "moreAvailable": False}
    assert await cursor(app, stream) == 2
    async with admin_client(app) as admin:
        log = (await admin.get(f"/tenants/acme/streams/{stream['id']}/attempts")).json()["attempts"]
    assert [(r["seq"], r["outcome"], r["error"]) for r in log] == [
        (1, "delivered", None),
        (2, "dead", "invalid_key: unknown kid"),
    ]


async def test_max_events_zero_only_acknowledges(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="poller")
    await create_user(acme.client, "a")
    await create_user(acme.client, "b")
    jti = f"{stream['id']}.1"

    response = await poll(app, stream, ack=[jti], maxEvents=0)

    assert response.json() == {"sets": {}, "moreAvailable": False}
    assert await cursor(app, stream) == 1


async def test_a_long_poll_returns_when_an_event_is_committed(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="poller")
    answers: list[dict[str, Any]] = []

    async def long_poll() -> None:
        answers.append((await poll(app, stream, maxEvents=5)).json())

    async with running(app), anyio.create_task_group() as tg:
        tg.start_soon(long_poll)
        await anyio.sleep(0.3)
        assert answers == [], "no SET yet: the poll waits"
        await create_user(acme.client, "late")

    assert [seqs(a) for a in answers] == [[1]]


async def test_a_long_poll_answers_at_once_when_the_server_stops(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="poller")
    answered: list[float] = []

    async def long_poll() -> None:
        await poll(app, stream)
        answered.append(anyio.current_time())

    async with anyio.create_task_group() as tg:
        async with running(app):
            tg.start_soon(long_poll)
            await anyio.sleep(0.2)
        stopped = anyio.current_time()

    assert answered and answered[0] - stopped < 1.0  # not the 3 s wait


async def test_a_long_poll_without_events_answers_empty_after_the_wait(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="poller")
    started = anyio.current_time()

    response = await poll(app, stream)

    assert response.json() == {"sets": {}, "moreAvailable": False}
    assert anyio.current_time() - started >= 2.5  # SCIMHUB_SETS_POLL_WAIT_SECONDS is 3 here


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"maxEvents": -1}, "maxEvents must be an integer from 0 to 1000."),
        ({"maxEvents": "5"}, "maxEvents must be an integer from 0 to 1000."),
        ({"returnImmediately": "yes"}, "returnImmediately must be true or false."),
        ({"ack": "x"}, "ack must be an array of jti strings."),
        (
            {"setErrs": {"x": {"description": "no err"}}},
            'setErrs must map each jti to {"err": "...", "description": "..."}.',
        ),
        ({"acks": []}, "Unknown poll request member(s): acks."),
    ],
)
async def test_a_bad_poll_request_is_400_and_acknowledges_nothing(
    app: object, acme: TenantAccess, body: dict[str, Any], detail: str
) -> None:
    stream = await add_stream(app, poll=True, audience="poller")
    await create_user(acme.client, "a")

    response = await poll(app, stream, **{"ack": [f"{stream['id']}.1"], **body})

    assert response.status_code == 400
    assert response.json() == {"err": "invalid_request", "description": detail}
    assert await cursor(app, stream) == 0


async def test_invalid_json_is_400(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="poller")
    async with public_client(app) as client:
        response = await client.post(
            f"/sets/v1/streams/{stream['id']}/poll",
            content=b"{not json",
            headers={"Authorization": f"Bearer {stream['token']}"},
        )
    assert response.status_code == 400
    assert response.json() == {"err": "invalid_request", "description": "The poll request is not valid JSON."}


async def test_polling_needs_the_streams_own_token(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="poller")
    other = await add_stream(app, poll=True, audience="other")
    await create_user(acme.client, "a")
    ack = {"ack": [f"{stream['id']}.1"]}

    wrong = await poll(app, stream, token=other["token"], **ack)
    scim_token = await poll(app, stream, token=acme.token, **ack)
    unknown = await poll(app, {**stream, "id": "no-such-stream"}, **ack)
    async with public_client(app) as client:
        missing = await client.post(f"/sets/v1/streams/{stream['id']}/poll", json=ack)

    for response in (wrong, scim_token, unknown, missing):
        assert response.status_code == 401
        assert response.json()["err"] == "authentication_failed"
        assert response.headers["www-authenticate"] == 'Bearer realm="scimhub-sets"'
    assert await cursor(app, stream) == 0


async def test_a_push_stream_cannot_be_polled(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, push="https://receiver.example.com/sets", audience="aud")

    response = await poll(app, stream, token="sst_anything")

    assert response.status_code == 401


async def test_an_oversized_poll_request_is_413_and_acknowledges_nothing(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="poller")
    await create_user(acme.client, "a")
    padding = [f"{stream['id']}.1"] + ["x" * 100] * 3000  # ~300 KB of jtis, the real one first

    response = await poll(app, stream, ack=padding, returnImmediately=True)

    assert response.status_code == 413
    assert response.json() == {"err": "invalid_request", "description": "The poll request is larger than 262144 bytes."}
    assert await cursor(app, stream) == 0
