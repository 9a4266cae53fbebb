"""Extension data, declared or not, is part of `resource` and `changes` in what webhooks receive and
what in-process hooks are called with (the same payload as the feed)."""

from __future__ import annotations

from typing import Any

import pytest

import scimhub
from scimhub import Event
from scimhub import HookRegistry
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.conftest import make_tenant
from tests.events.support import Receiver
from tests.events.support import feed
from tests.events.support import patch
from tests.events.support import running
from tests.events.support import wait_until
from tests.events.test_webhook_delivery import add_webhook
from tests.extensions.support import ACME
from tests.extensions.support import OKTA_EXT
from tests.extensions.support import declare

pytestmark = pytest.mark.anyio

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


async def test_webhooks_and_hooks_carry_declared_and_undeclared_extension_data(
    settings: Settings, store: SqlStore, receiver: Receiver
) -> None:
    hooks = HookRegistry()
    called: list[dict[str, Any]] = []

    @hooks.on("*")
    async def record(event: Event) -> None:
        called.append(event.to_json())

    app = scimhub.create_app(settings, store=store, hooks=hooks)
    acme = await make_tenant(store, app, "acme")
    await declare(store, acme.tenant_id)
    await add_webhook(app, receiver.url)
    body = {"schemas": [USER, ACME, OKTA_EXT], "userName": "x", ACME: {"costCenter": "42"}, OKTA_EXT: {"tier": "gold"}}
    async with running(app), acme.client:
        created = await acme.client.post("/Users", json=body)
        await patch(
            acme.client,
            f"/Users/{created.json()['id']}",
            {"op": "replace", "path": f"{ACME}:costCenter", "value": "43"},
        )
        await wait_until(lambda: len(receiver.accepted()) == 2 and len(called) == 2, what="2 deliveries and 2 calls")

    events = await feed(app)
    delivered = [d.event for d in receiver.accepted()]
    assert delivered == called == events
    assert events[0]["resource"][ACME] == {"costCenter": "42"} and events[0]["resource"][OKTA_EXT] == {"tier": "gold"}
    assert {c["path"] for c in events[0]["changes"]} >= {f"{ACME}:costCenter", f"{OKTA_EXT}:tier"}
    assert events[1]["changes"] == [{"path": f"{ACME}:costCenter", "before": "42", "after": "43"}]
    assert events[1]["resource"][ACME] == {"costCenter": "43"}
