"""The per-tenant request log: the last N SCIM requests, redacted and size-capped, via the admin API."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import orjson
import pytest

from scimhub.auth.tokens import mint_token
from scimhub.http import request_log as request_log_module
from scimhub.protocol.context import Principal
from scimhub.requestlog import REDACTED
from scimhub.requestlog import error_detail
from scimhub.requestlog import redact_body
from scimhub.settings import Settings
from scimhub.store.request_log_sql import LoggedRequest
from scimhub.store.request_log_sql import RequestLogStore
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.events.support import ADMIN_TOKEN
from tests.events.support import running
from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import USER
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_user
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import user_body
from tests.ops.support import admin_client
from tests.ops.support import ops_app
from tests.ops.support import request_log

pytestmark = pytest.mark.anyio


async def test_each_request_is_kept_with_method_path_status_and_error(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = ops_app(settings, store)
    async with client_for(app, acme.token) as client:
        created = await client.post("/Users", json=user_body("bjensen"))
        listed = await client.get("/Users", params={"filter": 'userName eq "bjensen"', "count": "5"})
        conflict = await client.post("/Users", json=user_body("bjensen"))
        bad_patch = await client.patch(
            f"/Users/{created.json()['id']}", json=patch_body({"op": "jump", "path": "title"})
        )
        deleted = await client.delete(f"/Users/{created.json()['id']}")

    entries = await request_log(app)

    assert [(e["method"], e["status"]) for e in entries] == [
        ("DELETE", 204),
        ("PATCH", 400),
        ("POST", 409),
        ("GET", 200),
        ("POST", 201),
    ]
    delete, patch, post_conflict, get, post = entries
    responses = [deleted, bad_patch, conflict, listed, created]
    assert [e["requestId"] for e in entries] == [r.headers["x-request-id"] for r in responses]
    assert {e["tokenId"] for e in entries} == {acme.token_id}
    assert post["path"] == "/scim/v2/Users" and post["query"] is None and post["error"] is None
    assert get["query"] == "filter=userName+eq+%22bjensen%22&count=5"
    assert post_conflict["error"] == f"uniqueness: {conflict.json()['detail']}"
    assert patch["error"] == f"invalidValue: {bad_patch.json()['detail']}"
    assert delete["path"] == f"/scim/v2/Users/{created.json()['id']}"
    assert delete["requestBody"] is None and delete["responseBody"] is None and delete["error"] is None
    assert orjson.loads(post["requestBody"]) == user_body("bjensen")
    assert orjson.loads(post["responseBody"])["id"] == created.json()["id"]
    for entry in entries:
        assert isinstance(entry["latencyMs"], int) and entry["latencyMs"] >= 0
        assert datetime.fromisoformat(entry["at"]).tzinfo is not None


async def test_failed_only_and_limit(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    app = ops_app(settings, store)
    async with client_for(app, acme.token) as client:
        await create_user(client, "bjensen")
        for _ in range(3):
            await client.post("/Users", json=user_body("bjensen"))
        await client.get("/Users/no-such-id")
        await client.get("/Users")

    failed = await request_log(app, failed="true")
    assert [e["status"] for e in failed] == [404, 409, 409, 409]
    assert [e["status"] for e in await request_log(app, failed="true", limit="2")] == [404, 409]
    assert [e["status"] for e in await request_log(app, limit="2")] == [200, 404]
    assert len(await request_log(app, failed="false")) == 6


async def test_the_log_is_per_tenant(
    settings: Settings, store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    app = ops_app(settings, store)
    async with client_for(app, acme.token) as a, client_for(app, globex.token) as g:
        await create_user(a, "acme-user")
        await g.get("/Groups")
    async with client_for(app, mint_token()) as stranger:
        assert (await stranger.get("/Users")).status_code == 401  # no tenant: in no tenant's log

    acme_log, globex_log = await request_log(app, "acme"), await request_log(app, "globex")
    assert [(e["method"], e["path"]) for e in acme_log] == [("POST", "/scim/v2/Users")]
    assert [(e["method"], e["path"]) for e in globex_log] == [("GET", "/scim/v2/Groups")]
    assert globex_log[0]["tokenId"] == globex.token_id


async def test_only_the_last_n_requests_are_kept(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    app = ops_app(settings, store, request_log_size=3)
    async with client_for(app, acme.token) as client:
        for i in range(7):
            await client.get("/Users", params={"startIndex": str(i + 1)})
            await request_log(app)  # one flush (one batch) per request

    assert [e["query"] for e in await request_log(app)] == ["startIndex=7", "startIndex=6", "startIndex=5"]


async def test_trimming_keeps_n_per_tenant_when_tenants_interleave(
    settings: Settings, store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    app = ops_app(settings, store, request_log_size=3)
    async with client_for(app, acme.token) as a, client_for(app, globex.token) as g:
        for i in range(6):
            await a.get("/Users", params={"startIndex": str(i + 1)})
            await g.get("/Groups", params={"startIndex": str(i + 1)})
        await request_log(app)  # one batch with both tenants
        for i in range(6, 8):
            await a.get("/Users", params={"startIndex": str(i + 1)})
            await request_log(app)
            await g.get("/Groups", params={"startIndex": str(i + 1)})
            await request_log(app)

    assert [e["query"] for e in await request_log(app, "acme")] == ["startIndex=8", "startIndex=7", "startIndex=6"]
    assert [e["query"] for e in await request_log(app, "globex")] == ["startIndex=8", "startIndex=7", "startIndex=6"]


async def test_secrets_in_bodies_are_redacted(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    app = ops_app(settings, store)
    password, new_password, okta_password = "Corr3ct-Horse-Battery", "N3w-Pa55phrase-Babs", "0kta-Pushed-Secret"
    body = user_body(
        "bjensen",
        password=password,
        apiToken="tok-123-visible-nowhere",  # unknown attributes are ignored, but the body is logged
        clientSecret="cs-456-visible-nowhere",
        nested={"Authorization": "Bearer bearer-xyz-789", "credentials": ["cred-one-xyz", "cred-two-xyz"]},
    )
    body["schemas"] = [USER, ENTERPRISE]
    body[ENTERPRISE] = {"employeeNumber": "701984"}
    async with client_for(app, acme.token) as client:
        user = await create_user(client, "bjensen-first")
        created = await client.post("/Users", json=body)
        by_value = await client.patch(
            f"/Users/{user['id']}", json=patch_body({"op": "replace", "value": {"password": okta_password}})
        )
        by_path = await client.patch(
            f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "password", "value": new_password})
        )
        by_path_case = await client.patch(
            f"/Users/{user['id']}", json=patch_body({"Op": "Replace", "Path": "PASSWORD", "Value": new_password})
        )
    assert (created.status_code, by_value.status_code, by_path.status_code, by_path_case.status_code) == (
        201,
        200,
        200,
        200,
    )

    entries = await request_log(app)
    logged_create = orjson.loads(entries[3]["requestBody"])
    assert logged_create["password"] == REDACTED
    assert logged_create["apiToken"] == logged_create["clientSecret"] == REDACTED
    assert logged_create["nested"] == {"Authorization": REDACTED, "credentials": REDACTED}
    assert logged_create["userName"] == "bjensen"
    assert logged_create[ENTERPRISE] == {"employeeNumber": "701984"}  # everything else is kept
    assert orjson.loads(entries[2]["requestBody"])["Operations"][0]["value"] == {"password": REDACTED}
    assert orjson.loads(entries[1]["requestBody"])["Operations"][0] == {
        "op": "replace",
        "path": "password",
        "value": REDACTED,
    }
    text = orjson.dumps(entries).decode()
    for secret in (password, new_password, okta_password, "tok-123", "cs-456", "xyz-789", "cred-", acme.token):
        assert secret not in text


async def test_secret_keys_that_lookup_folds_are_redacted(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    """Attribute lookup folds names, so "pa\u017f\u017fword" (long s) sets the password: the log
    must hide it too (the quick check on the raw bytes let it through)."""
    app = ops_app(settings, store)
    async with client_for(app, acme.token) as client:
        created = await client.post("/Users", json=user_body("bjensen", **{"pa\u017f\u017fword": "Tr0ub4dor&3"}))
        patched = await client.patch(
            f"/Users/{created.json()['id']}",
            json=patch_body({"op": "replace", "value": {"PA\u017f\u017fWORD": "N3w-Tr0ub4dor"}}),
        )
    assert (created.status_code, patched.status_code) == (201, 200)

    patch_entry, create_entry = await request_log(app)
    assert orjson.loads(create_entry["requestBody"])["pa\u017f\u017fword"] == REDACTED
    assert orjson.loads(patch_entry["requestBody"])["Operations"][0]["value"] == {"PA\u017f\u017fWORD": REDACTED}
    assert "Tr0ub4dor" not in orjson.dumps([patch_entry, create_entry]).decode()


async def test_bodies_are_capped(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    cap = 200
    app = ops_app(settings, store, request_log_body_bytes=cap)
    async with client_for(app, acme.token) as client:
        created = await client.post("/Users", json=user_body("bjensen", title="t" * 1000))
        small = await client.post("/Users", json=user_body("x"))

    big_entry, small_entry = (await request_log(app))[1], (await request_log(app))[0]
    for logged in (big_entry["requestBody"], big_entry["responseBody"]):
        head, _, rest = logged.partition("… [")
        assert len(head.encode()) == cap
        assert rest.endswith(" more bytes]")
    assert big_entry["requestBody"].startswith('{"schemas":')
    more = int(big_entry["responseBody"].rsplit("[", 1)[1].split()[0])
    assert cap + more == len(created.content)
    assert small.status_code == 201
    assert orjson.loads(small_entry["requestBody"]) == user_body("x")  # under the cap: whole


async def test_a_secret_cut_by_the_cap_is_still_redacted(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = ops_app(settings, store, request_log_body_bytes=40)
    secret = "S3cr3t-" + "p" * 60
    raw = b'{"password":"' + secret.encode() + b'","userName":"bjensen","schemas":["' + USER.encode() + b'"]}'
    async with client_for(app, acme.token) as client:
        response = await client.post("/Users", content=raw, headers={"Content-Type": "application/scim+json"})
    assert response.status_code == 201, response.text

    logged = (await request_log(app))[0]["requestBody"]
    assert "S3cr3t" not in logged
    assert logged.startswith('{"password":"[redacted]')


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"password":"abc', '{"password":"[redacted]"'),
        (b'{"password":"ab\\', '{"password":"[redacted]"'),
        (b'{"clientSecret": "xy\\"z", "a": 1', '{"clientSecret": "[redacted]", "a": 1'),
        (b'{"userName":"a","pass', '{"userName":"a","pass'),
    ],
)
def test_redaction_of_bodies_that_are_not_whole_json(raw: bytes, expected: str) -> None:
    assert redact_body(raw, 1000) == expected


def test_error_detail_reads_scim_error_bodies_only() -> None:
    assert error_detail(b'{"detail":"No.","scimType":"invalidValue"}') == "invalidValue: No."
    assert error_detail(b'{"detail":"Gone."}') == "Gone."
    assert error_detail(b"<html>") is None
    assert error_detail(b"[1]") is None


async def test_the_buffer_is_flushed_when_the_app_stops(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = ops_app(settings, store, worker_enabled=False)
    async with running(app), client_for(app, acme.token) as client:
        await client.get("/Users")
    other = ops_app(settings, store)  # a second instance reads the database only
    assert [e["path"] for e in await request_log(other)] == ["/scim/v2/Users"]


async def test_the_admin_api_of_the_request_log(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    app = ops_app(settings, store)
    disabled = ops_app(settings, store, request_log_size=0)
    async with admin_client(app) as admin, admin_client(disabled) as admin_of_disabled:
        unknown = await admin.get("/tenants/nosuch/requests")
        bad_limit = await admin.get("/tenants/acme/requests", params={"limit": "-1"})
        off = await admin_of_disabled.get("/tenants/acme/requests")
        anonymous = await admin.get("/tenants/acme/requests", headers={"Authorization": f"Bearer {ADMIN_TOKEN}x"})

    assert (unknown.status_code, unknown.json()) == (404, {"detail": "No tenant named 'nosuch'."})
    assert (bad_limit.status_code, bad_limit.json()) == (
        400,
        {"detail": "limit must be a non-negative integer, got '-1'."},
    )
    assert (off.status_code, off.json()) == (
        404,
        {"detail": "The request log is disabled (SCIMHUB_REQUEST_LOG_SIZE=0)."},
    )
    assert anonymous.status_code == 401


async def test_unknown_paths_and_methods_are_kept_with_the_status_the_client_got(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    """The routing's own 404 and 405 (raised, then answered by the app's error handler) are kept
    as the client saw them, not as a 500."""
    app = ops_app(settings, store)
    async with client_for(app, acme.token) as client:
        missing = await client.get("/Nowhere")
        wrong_method = await client.put("/Users", json=user_body("bjensen"))

    entries = await request_log(app)

    assert (missing.status_code, wrong_method.status_code) == (404, 405)
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("PUT", "/scim/v2/Users", 405),
        ("GET", "/scim/v2/Nowhere", 404),
    ]
    assert [e["error"] for e in entries] == [error_detail(wrong_method.content), error_detail(missing.content)]
    assert [orjson.loads(e["responseBody"]) for e in entries] == [wrong_method.json(), missing.json()]


async def test_a_burst_writes_and_redacts_only_the_entries_the_log_keeps(
    settings: Settings, store: SqlStore, acme: TenantAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    redacted: list[bytes] = []
    append, redact = RequestLogStore.append, request_log_module.redact_body

    async def counting_append(self: RequestLogStore, entries: Sequence[LoggedRequest]) -> None:
        batches.append(len(entries))
        await append(self, entries)

    def counting_redact(raw: bytes, cap: int, size: int | None = None) -> str | None:
        redacted.append(raw)
        return redact(raw, cap, size)

    monkeypatch.setattr(RequestLogStore, "append", counting_append)
    monkeypatch.setattr(request_log_module, "redact_body", counting_redact)
    app = ops_app(settings, store, request_log_size=3)
    async with client_for(app, acme.token) as client:
        for i in range(10):  # faster than the flush: the ring keeps the last 3
            await client.get("/Users", params={"startIndex": str(i + 1)})

    assert [e["query"] for e in await request_log(app)] == ["startIndex=10", "startIndex=9", "startIndex=8"]
    assert batches == [3]
    assert len(redacted) == 3 * 2  # request and response body of the three written entries


async def test_past_max_pending_entries_of_all_tenants_are_flushed_inline(
    settings: Settings, store: SqlStore, acme: TenantAccess, globex: TenantAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(request_log_module, "MAX_PENDING", 4)
    other = ops_app(settings, store)  # reads the database only: shows what was flushed
    app = ops_app(settings, store, request_log_size=3)
    async with client_for(app, acme.token) as a, client_for(app, globex.token) as g:
        for i in range(3):
            await a.get("/Users", params={"startIndex": str(i + 1)})
        await a.get("/Users", params={"startIndex": "4"})  # pushes out the first: still 3 pending
        assert await request_log(other) == []
        await g.get("/Groups")  # the 4th pending entry

        assert [e["query"] for e in await request_log(other)] == ["startIndex=4", "startIndex=3", "startIndex=2"]
        assert [e["path"] for e in await request_log(other, "globex")] == ["/scim/v2/Groups"]


async def test_a_request_body_the_log_cuts_is_held_redacted(
    settings: Settings, store: SqlStore, acme: TenantAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    held: list[request_log_module.CapturedRequest] = []
    add = request_log_module.RequestLogBuffer.add

    async def keeping(self: request_log_module.RequestLogBuffer, entry: request_log_module.CapturedRequest) -> None:
        held.append(entry)
        await add(self, entry)

    monkeypatch.setattr(request_log_module.RequestLogBuffer, "add", keeping)
    app = ops_app(settings, store, request_log_body_bytes=120)  # the password is within the cap
    async with client_for(app, acme.token) as client:
        big = await client.post("/Users", json=user_body("bjensen", password="Tr0ub4dor&3", title="t" * 500))
        small = await client.get("/Users", params={"count": "1"})
    assert (big.status_code, small.status_code) == (201, 200)

    big_entry, small_entry = held
    assert isinstance(big_entry.request_body, str)  # redacted and cut when captured
    assert "Tr0ub4dor" not in big_entry.request_body and "[redacted]" in big_entry.request_body
    assert len(big_entry.response_body) == 121  # the cap and one byte, to tell that it was cut
    assert small_entry.request_body == b""


async def test_a_flush_that_fails_is_logged_and_the_next_one_writes(
    settings: Settings,
    store: SqlStore,
    acme: TenantAccess,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    logged = request_log_module.CapturedRequest.logged

    def failing(self: request_log_module.CapturedRequest, cap: int) -> LoggedRequest:
        raise ValueError("redaction broke")

    app = ops_app(settings, store)
    async with client_for(app, acme.token) as client:
        monkeypatch.setattr(request_log_module.CapturedRequest, "logged", failing)
        await client.get("/Users", params={"startIndex": "1"})
        with caplog.at_level("ERROR", logger="scimhub.requestlog"):
            assert await request_log(app) == []  # the read flushes: the failure is logged, not raised
        monkeypatch.setattr(request_log_module.CapturedRequest, "logged", logged)
        await client.get("/Users", params={"startIndex": "2"})

    assert "could not write 1 request-log entries" in caplog.text
    assert [e["query"] for e in await request_log(app)] == ["startIndex=2"]


async def test_past_max_pending_a_running_flusher_is_woken_and_the_request_does_not_wait(
    settings: Settings, store: SqlStore, acme: TenantAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(request_log_module, "MAX_PENDING", 2)
    monkeypatch.setattr(request_log_module, "FLUSH_EVERY", 3600.0)  # only a wake-up flushes
    flushed = asyncio.Event()
    append = RequestLogStore.append

    async def slow_append(self: RequestLogStore, entries: Sequence[LoggedRequest]) -> None:
        await asyncio.sleep(0.2)
        await append(self, entries)
        flushed.set()

    monkeypatch.setattr(RequestLogStore, "append", slow_append)
    other = ops_app(settings, store)  # reads the database only
    app = ops_app(settings, store, worker_enabled=False)
    async with running(app), client_for(app, acme.token) as client:
        await client.get("/Users", params={"startIndex": "1"})
        await client.get("/Users", params={"startIndex": "2"})  # the 2nd pending entry
        assert not flushed.is_set()  # answered before the (slow) flush
        await asyncio.wait_for(flushed.wait(), 5)

        assert [e["query"] for e in await request_log(other)] == ["startIndex=2", "startIndex=1"]


async def test_stopping_lets_a_flush_in_progress_finish(
    settings: Settings, store: SqlStore, acme: TenantAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(request_log_module, "MAX_PENDING", 1)
    started = asyncio.Event()
    append = RequestLogStore.append

    async def slow_append(self: RequestLogStore, entries: Sequence[LoggedRequest]) -> None:
        if entries:
            started.set()
            await asyncio.sleep(0.2)
        await append(self, entries)

    monkeypatch.setattr(RequestLogStore, "append", slow_append)
    app = ops_app(settings, store, worker_enabled=False)
    async with running(app), client_for(app, acme.token) as client:
        await client.get("/Users", params={"startIndex": "1"})
        await asyncio.wait_for(started.wait(), 5)  # the flusher holds the entry; the app stops now

    other = ops_app(settings, store)
    assert [e["query"] for e in await request_log(other)] == ["startIndex=1"]


async def test_concurrent_flushes_write_in_the_order_they_took(
    settings: Settings, store: SqlStore, acme: TenantAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    append = RequestLogStore.append
    first = True

    async def first_is_slow(self: RequestLogStore, entries: Sequence[LoggedRequest]) -> None:
        nonlocal first
        if first:
            first = False
            await asyncio.sleep(0.2)
        await append(self, entries)

    monkeypatch.setattr(RequestLogStore, "append", first_is_slow)
    app = ops_app(settings, store, request_log_size=3)
    async with client_for(app, acme.token) as client:
        for i in range(3):
            await client.get("/Users", params={"startIndex": str(i + 1)})
        older = asyncio.create_task(request_log(app))  # takes 1-3, then waits in its append
        await asyncio.sleep(0.05)
        for i in range(3, 5):
            await client.get("/Users", params={"startIndex": str(i + 1)})
        newer = await request_log(app)  # takes 4-5 only after the first flush has written
        await older

    assert [e["query"] for e in newer] == ["startIndex=5", "startIndex=4", "startIndex=3"]


class _HeldBuffer(request_log_module.RequestLogBuffer):
    """Holds what the middleware captures instead of buffering it for the database."""

    def __init__(self, cap: int) -> None:
        super().__init__(RequestLogStore(None, 10), cap)  # type: ignore[arg-type]  # never written
        self.held: list[request_log_module.CapturedRequest] = []

    async def add(self, entry: request_log_module.CapturedRequest) -> None:
        self.held.append(entry)


async def test_bodies_in_several_messages_are_captured_whole_and_cut_at_the_cap() -> None:
    """A request body read in pieces is kept whole; a response sent in pieces (a streamed group)
    is kept up to the cap and one byte, with its full size: the entry says how much was cut."""
    pieces = [b'{"a":', b'"' + b"x" * 50, b'"}']
    chunks = [b"[" + b"1," * 40, b"2," * 40, b"3]"]

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        body = b""
        while True:
            message = await receive()  # type: ignore[operator]
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        assert body == b"".join(pieces)
        await send({"type": "http.response.start", "status": 207, "headers": []})  # type: ignore[operator]
        for i, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < 2})  # type: ignore[operator]

    received = [{"type": "http.request", "body": p, "more_body": i < 2} for i, p in enumerate(pieces)]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return received.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    cap = 100
    buffer = _HeldBuffer(cap)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/scim/v2/Bulk",
        "query_string": b"a=%C3%A9",
        "headers": [],
        "scimhub.principal": Principal("t1", "tok1"),
        "scimhub.request_id": "r1",
    }
    await request_log_module.RequestLogMiddleware(app, buffer)(scope, receive, send)  # type: ignore[arg-type]

    assert [m.get("body") for m in sent[1:]] == chunks  # passed on unchanged
    [entry] = buffer.held
    assert entry.request_body == b"".join(pieces)
    assert entry.response_body == b"".join(chunks)[: cap + 1]
    assert entry.response_size == len(b"".join(chunks))
    logged = entry.logged(cap)
    assert (logged.tenant_id, logged.token_id, logged.request_id, logged.status) == ("t1", "tok1", "r1", 207)
    assert logged.query == "a=%C3%A9" and logged.ignored is None and logged.error is None
    assert logged.request_body == b"".join(pieces).decode()
    more = len(b"".join(chunks)) - cap
    assert logged.response_body == b"".join(chunks)[:cap].decode() + f"… [{more} more bytes]"
