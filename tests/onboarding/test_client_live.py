"""scimhub.client against a live ``scimhub serve``: onboarding, the feed from a stored checkpoint,
its 410 and the resynchronisation, and a real signed webhook delivery verified (issue 16)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from scimhub.client import AdminClient
from scimhub.client import Event
from scimhub.client import FeedExpired
from scimhub.client import WebhookVerificationError
from scimhub.client import verify_webhook
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.factory import open_store
from tests.events.support import GROUP
from tests.events.support import PATCH_OP
from tests.events.support import Receiver
from tests.events.support import user_body
from tests.multiinstance.servers import ADMIN_TOKEN
from tests.multiinstance.servers import Server
from tests.multiinstance.servers import fresh_database
from tests.multiinstance.servers import serving

FUTURE = "9999-01-01T00:00:00.000Z"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    directory = tmp_path_factory.mktemp("client-live")
    with (
        fresh_database(directory) as url,
        serving(url, directory, {"SCIMHUB_WEBHOOK_ALLOW_PRIVATE": "true"}, 1) as (server,),
    ):
        yield server, url


@pytest.fixture
def client(live: tuple[Server, str]) -> Iterator[AdminClient]:
    with AdminClient(live[0].base_url, ADMIN_TOKEN, timeout=10) as admin:
        yield admin


def provision(server: Server, token: str, *names: str) -> list[str]:
    with httpx2.Client(base_url=server.scim_url, headers={"Authorization": f"Bearer {token}"}) as idp:
        ids = []
        for name in names:
            response = idp.post("/Users", json=user_body(name))
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        return ids


def purge_all_events(database_url: str) -> None:
    async def purge() -> None:
        store = open_store(Settings(database_url=database_url))
        try:
            await EventStore.of(store).purge(FUTURE, None)
        finally:
            await store.db.dispose()

    asyncio.run(purge())


def test_the_importing_app_loads_no_server_code() -> None:
    probe = (
        "import sys, scimhub.client\n"
        "server = [m for m in sys.modules if m.split('.')[0] in ('starlette', 'sqlalchemy', 'uvicorn', 'alembic')]\n"
        "print(sorted(server))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)

    assert done.stdout.strip() == "[]"


def test_onboarding_then_the_feed_from_a_stored_checkpoint(live: tuple[Server, str], client: AdminClient) -> None:
    server, _url = live
    tenant = client.create_tenant("feedco")
    issued = client.issue_token("feedco", expires_in_days=90)
    assert tenant.name == "feedco" and issued.token.expires_at is not None
    assert [t.id for t in client.tokens("feedco")] == [issued.token.id]

    provision(server, issued.secret, "ada", "bob", "cy")
    first = list(client.events("feedco", page_size=2))  # three pages of at most two
    checkpoint = first[-1].seq
    provision(server, issued.secret, "dee")
    later = list(client.events("feedco", after=checkpoint))

    assert [e.type for e in first] == ["user.created"] * 3
    assert [e.seq for e in first] == [1, 2, 3]
    assert [(e.seq, e.resource["userName"] if e.resource else None) for e in later] == [(4, "dee")]
    assert client.tenant("feedco").users == 4


def test_a_purged_checkpoint_raises_feed_expired_and_the_resync_continues(
    live: tuple[Server, str], client: AdminClient
) -> None:
    server, url = live
    client.create_tenant("oldco")
    secret = client.issue_token("oldco").secret
    provision(server, secret, "ada", "bob")
    purge_all_events(url)
    provision(server, secret, "cy")

    with pytest.raises(FeedExpired) as expired:
        list(client.events("oldco", after=0))
    # The documented resynchronisation: read the directory again, then the feed from resume_after.
    assert expired.value.status == 410
    assert expired.value.resume_after == expired.value.oldest - 1
    resumed = list(client.events("oldco", after=expired.value.resume_after))
    assert [e.resource["userName"] for e in resumed if e.resource] == ["cy"]


def test_a_real_delivery_verifies_and_forgeries_do_not(live: tuple[Server, str], client: AdminClient) -> None:
    server, _url = live
    receiver = Receiver().start()
    try:
        client.create_tenant("hookco")
        secret = client.issue_token("hookco").secret
        with httpx2.Client(base_url=client._http.base_url, headers=client._http.headers) as raw:
            hook = raw.post("/tenants/hookco/webhooks", json={"url": receiver.url})
        assert hook.status_code == 201, hook.text
        (user_id,) = provision(server, secret, "ada")
        deadline = time.monotonic() + 15
        while not receiver.accepted() and time.monotonic() < deadline:
            time.sleep(0.05)
        (delivery,) = receiver.accepted()
    finally:
        receiver.stop()
    signing_secret = hook.json()["secret"]

    event = verify_webhook(signing_secret, delivery.headers, delivery.body)

    assert isinstance(event, Event)
    assert (event.type, event.resource_id, event.seq) == ("user.created", user_id, 1)
    forgeries = [
        (signing_secret, delivery.headers, delivery.body.replace(b'"ada"', b'"eve"'), None),
        ("whsec_" + "QUJD" * 8, delivery.headers, delivery.body, None),
        (signing_secret, {**delivery.headers, "webhook-id": "msg_other"}, delivery.body, None),
        (signing_secret, delivery.headers, delivery.body, time.time() + 301),  # replayed too late
        (signing_secret, {k: v for k, v in delivery.headers.items() if k != "webhook-signature"}, delivery.body, None),
    ]
    for key, headers, body, now in forgeries:
        with pytest.raises(WebhookVerificationError):
            verify_webhook(key, headers, body, now=now)


def test_a_tenant_deleted_through_the_client_is_gone(live: tuple[Server, str], client: AdminClient) -> None:
    server, _url = live
    client.create_tenant("leaver")
    secret = client.issue_token("leaver").secret
    provision(server, secret, "ada")

    deletion = client.delete_tenant("leaver", poll_seconds=0.2)

    assert deletion is None or deletion.removed["tokens"] == 1
    assert "leaver" not in [t.name for t in client.tenants()]
    with httpx2.Client(base_url=server.scim_url, headers={"Authorization": f"Bearer {secret}"}) as idp:
        assert idp.get("/Users").status_code == 401


def readme_roles_consumer() -> Callable[[AdminClient, str, int, dict[str, list[str]]], int]:
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- roles-consumer:", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the documented example, as written
    consumer: Callable[[AdminClient, str, int, dict[str, list[str]]], int] = namespace["sync_roles"]
    return consumer


def test_the_readme_roles_consumer_keeps_an_apps_roles_in_sync(live: tuple[Server, str], client: AdminClient) -> None:
    server, url = live
    sync_roles = readme_roles_consumer()
    client.create_tenant("rolesco")
    secret = client.issue_token("rolesco").secret
    with httpx2.Client(base_url=client._http.base_url, headers=client._http.headers) as raw:
        assert raw.post("/tenants/rolesco/roles", json={"role": "admin", "group": "Admins"}).status_code == 201
    ada, bob, cy = provision(server, secret, "ada", "bob", "cy")
    with httpx2.Client(base_url=server.scim_url, headers={"Authorization": f"Bearer {secret}"}) as idp:
        members = [{"value": ada}, {"value": bob}]
        group = idp.post("/Groups", json={"schemas": [GROUP], "displayName": "Admins", "members": members})
        assert group.status_code == 201, group.text
        roles: dict[str, list[str]] = {}
        checkpoint = sync_roles(client, "rolesco", 0, roles)
        assert roles == {ada: ["admin"], bob: ["admin"]}

        remove_bob = {"op": "remove", "path": f'members[value eq "{bob}"]'}
        patched = idp.patch(f"/Groups/{group.json()['id']}", json={"schemas": [PATCH_OP], "Operations": [remove_bob]})
        assert patched.status_code in (200, 204)
        assert idp.delete(f"/Users/{ada}").status_code == 204
        checkpoint = sync_roles(client, "rolesco", checkpoint, roles)
        assert roles == {}

        second = idp.post("/Groups", json={"schemas": [GROUP], "displayName": "Admins", "members": [{"value": cy}]})
        assert second.status_code == 201, second.text
    purge_all_events(url)  # retention passes the checkpoint: the consumer reads the directory again
    provision(server, secret, "dee")
    resumed = sync_roles(client, "rolesco", checkpoint, roles)
    assert roles == {cy: ["admin"]}
    assert resumed > checkpoint
    assert sync_roles(client, "rolesco", resumed, roles) == resumed + 1  # then it reads on: dee's creation
    assert roles == {cy: ["admin"]}
