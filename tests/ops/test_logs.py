"""Structured logs: one JSON line per request (request id, tenant, token id, route, status, latency);
tokens, passwords and webhook secrets never reach a log line."""

from __future__ import annotations

import logging
import re
import time

import orjson
import pytest

from scimhub.auth.tokens import mint_token
from scimhub.observability import LOG_FIELDS
from scimhub.observability import JsonFormatter
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.events.support import ADMIN_TOKEN
from tests.events.support import Receiver
from tests.events.support import fast
from tests.events.support import running
from tests.events.support import wait_until
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_user
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import user_body
from tests.ops.support import admin_client
from tests.ops.support import captured_logs
from tests.ops.support import ops_app
from tests.ops.support import root_client
from tests.ops.support import standalone_logs

pytestmark = pytest.mark.anyio

ACCESS_FIELDS = {"ts", "level", "logger", "msg", "request_id", "tenant", "method", "route", "status", "latency_ms"}


def access_lines(lines: list[str]) -> list[dict[str, object]]:
    parsed = [orjson.loads(line) for line in lines]
    return [p for p in parsed if p["logger"] == "scimhub.access"]


async def test_one_json_line_per_request_with_the_request_fields(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = ops_app(settings, store)
    with captured_logs() as logs:
        async with client_for(app, acme.token) as client:
            created = await client.post("/Users", json=user_body("bjensen"))
            fetched = await client.get(f"/Users/{created.json()['id']}")
        async with client_for(app, mint_token()) as stranger:
            refused = await stranger.get("/Groups")
        async with root_client(app) as root:
            live = await root.get("/healthz")

    lines = access_lines(logs.lines)
    assert len(lines) == 4
    responses = [created, fetched, refused, live]
    expected = [
        ("POST", "/scim/v2/Users", 201, acme.tenant_id, acme.token_id),
        ("GET", "/scim/v2/Users/{id}", 200, acme.tenant_id, acme.token_id),
        ("GET", "/scim/v2/Groups", 401, "-", None),
        ("GET", "/healthz", 200, "-", None),
    ]
    for line, response, (method, route, status, tenant, token_id) in zip(lines, responses, expected, strict=True):
        assert ACCESS_FIELDS <= set(line), line
        assert set(line) <= {"ts", "level", "logger", "msg", "exc", *LOG_FIELDS}
        assert (line["method"], line["route"], line["status"], line["tenant"]) == (method, route, status, tenant)
        assert line.get("token_id") == token_id
        assert line["request_id"] == response.headers["x-request-id"]
        assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0
        assert line["level"] == "INFO"
        assert line["msg"] == f"{method} {route} {status}"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(line["ts"]))


async def test_a_request_id_is_generated_or_taken_from_the_client(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = ops_app(settings, store)
    with captured_logs() as logs:
        async with client_for(app, acme.token) as client:
            generated = await client.get("/Users")
            given = await client.get("/Users", headers={"X-Request-Id": "okta-4711.a:b_c"})
            invalid = await client.get("/Users", headers={"X-Request-Id": "two words; <script>"})
            too_long = await client.get("/Users", headers={"X-Request-Id": "x" * 129})
            not_found = await client.get("/Nothing", headers={"X-Request-Id": "lost-1"})

    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert given.headers["x-request-id"] == "okta-4711.a:b_c"
    for response in (invalid, too_long):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    assert not_found.status_code == 404
    assert not_found.headers["x-request-id"] == "lost-1"
    ids = [line["request_id"] for line in access_lines(logs.lines)]
    assert ids == [r.headers["x-request-id"] for r in (generated, given, invalid, too_long, not_found)]
    assert len(set(ids)) == 5


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_tokens_passwords_and_webhook_secrets_never_reach_a_log_line(
    settings: Settings, store: SqlStore, acme: TenantAccess, receiver: Receiver, level: str
) -> None:
    """Logging as ``scimhub serve`` sets it up (SCIMHUB_LOG_LEVEL=INFO, the default, and DEBUG)."""
    app = ops_app(fast(settings), store)
    tenant = await store.tenant_by_name("acme")
    assert tenant is not None
    revoked_record, revoked = await tenants.issue_token(store, tenant, None)
    await tenants.revoke_token(store, revoked_record.id)
    unknown = mint_token()
    password, new_password = "Corr3ct-Horse-Battery-Staple!", "N3w-Pa55phrase-for-Babs"
    url_secret = "hook-url-credential-0451"  # receivers often authenticate the sender by a URL token

    with standalone_logs(level) as stderr:
        async with running(app):
            async with admin_client(app) as admin:
                hook = await admin.post("/tenants/acme/webhooks", json={"url": f"{receiver.url}?key={url_secret}"})
                bad_admin = await admin.get("/tenants/acme/events", headers={"Authorization": f"Bearer {unknown}"})
            async with client_for(app, acme.token) as client:
                user = await create_user(client, "bjensen", password=password)
                changed = await client.patch(
                    f"/Users/{user['id']}",
                    json=patch_body({"op": "replace", "path": "password", "value": new_password}),
                )
                conflict = await client.post("/Users", json=user_body("bjensen", password=password))
            for secret in (unknown, revoked, f"{acme.token}x", password):
                async with client_for(app, secret) as bad:
                    assert (await bad.get("/Users")).status_code == 401
            await wait_until(lambda: len(receiver.accepted()) >= 1, what="a webhook delivery")

    assert hook.status_code == 201 and bad_admin.status_code == 401
    assert changed.status_code == 200 and conflict.status_code == 409
    webhook_secret = hook.json()["secret"]
    assert webhook_secret.startswith("whsec_")
    lines = stderr.getvalue().splitlines()
    assert len(access_lines(lines)) == 9
    assert any("delivered" in line for line in lines)  # the worker's own line names the webhook id
    text = stderr.getvalue()
    for secret in (acme.token, revoked, unknown, password, new_password, ADMIN_TOKEN, webhook_secret, url_secret):
        assert secret not in text
    assert "whsec_" not in text
    assert "scimhub_" not in text.replace("scimhub_requests", "")  # not even a token's prefix


def test_the_formatter_copies_only_known_fields() -> None:
    record = logging.LogRecord("scimhub.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.__dict__.update({"request_id": "r1", "authorization": "Bearer scimhub_x", "body": '{"password":"p"}'})

    line = orjson.loads(JsonFormatter().format(record))

    assert line["msg"] == "GET /x"
    assert line["request_id"] == "r1"
    assert "authorization" not in line and "body" not in line


def test_standalone_logging_writes_json_lines_in_utc_to_stderr() -> None:
    with standalone_logs("warning") as stderr:
        logging.getLogger("scimhub.test").info("not shown at WARNING")
        logging.getLogger("scimhub.test").warning("shown %s", "here", extra={"tenant": "t1", "status": 503})
        (handler,) = logging.getLogger().handlers
        quiet = logging.getLogger("httpx2").getEffectiveLevel()

    (line,) = stderr.getvalue().splitlines()
    parsed = orjson.loads(line)
    assert parsed["msg"] == "shown here"
    assert (parsed["level"], parsed["logger"], parsed["tenant"], parsed["status"]) == (
        "WARNING",
        "scimhub.test",
        "t1",
        503,
    )
    assert isinstance(handler.formatter, JsonFormatter)
    assert handler.formatter.converter is time.gmtime
    assert quiet == logging.WARNING  # httpx2 would log webhook URLs at INFO


async def test_a_host_app_keeps_its_own_logging(settings: Settings, store: SqlStore) -> None:
    """create_app installs no handler: only ``scimhub serve`` configures logging."""
    root = logging.getLogger()
    before = (root.handlers[:], root.level, logging.getLogger("scimhub.access").handlers[:])

    app = ops_app(settings, store)
    async with root_client(app) as client:
        await client.get("/healthz")

    assert (root.handlers[:], root.level, logging.getLogger("scimhub.access").handlers[:]) == before
