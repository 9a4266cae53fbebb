"""``scimhub schema learned`` and ``adopt``: what the IdP sent under undeclared URNs, declared from
what was seen; the stored values then filter like declared ones on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest

from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.cli.support import Cli
from tests.conftest import TenantAccess
from tests.extensions.support import ENTRA_EXT
from tests.extensions.support import OKTA_EXT
from tests.http.scim_checks import GROUP
from tests.http.scim_checks import USER
from tests.http.scim_checks import app_with
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import patch_body

pytestmark = pytest.mark.anyio

HEADER = ["id\tresource_type\trequired\tattributes\tindexed"]


@pytest.fixture
def cli(settings: Settings) -> Cli:
    return Cli(settings.database_url)


async def _post(client: httpx2.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _seed(client: httpx2.AsyncClient) -> list[dict[str, Any]]:
    okta = {"costCenter": "A-7", "hired": "2024-01-02T03:04:05Z", "floors": [3, 4], "remote": True, "score": 1}
    return [
        await _post(client, "/Users", {"schemas": [USER, OKTA_EXT], "userName": "a", OKTA_EXT: okta}),
        await _post(
            client,
            "/Users",
            {"schemas": [USER, OKTA_EXT], "userName": "b", OKTA_EXT: {"costCenter": "B", "score": 2.5}},
        ),
        await _post(client, "/Users", {"schemas": [USER], "userName": "c", f"{ENTRA_EXT}:badge": "7"}),
    ]


async def test_learned_lists_what_the_idp_sent_with_the_types_it_can_be_given(cli: Cli, acme: TenantAccess) -> None:
    await _seed(acme.client)

    lines = cli.ok("schema", "learned", "acme")

    assert lines == [
        f"{ENTRA_EXT}\tUser\t1 resources",
        "  badge\tstring\tseen 1 times",
        f"{OKTA_EXT}\tUser\t2 resources",
        "  costCenter\tstring\tseen 2 times",
        "  floors\tmulti-valued integer | decimal\tseen 1 times",
        "  hired\tdateTime | string\tseen 1 times",
        "  remote\tboolean\tseen 1 times",
        "  score\tdecimal\tseen 2 times",
    ]


async def test_adopt_declares_what_was_seen_and_the_stored_values_filter_and_validate(
    cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    a, _, _ = await _seed(acme.client)

    adopted = cli.ok("schema", "adopt", "acme", OKTA_EXT)
    async with client_for(app_with(settings, store), acme.token) as client:  # a fresh config cache
        schema = await get_ok(client, f"/Schemas/{OKTA_EXT}")
        found = await get_ok(client, "/Users", params={"filter": f'{OKTA_EXT}:costCenter eq "a-7"'})
        later = await get_ok(client, "/Users", params={"filter": f'{OKTA_EXT}:hired gt "2024-01-01T00:00:00Z"'})
        scored = await get_ok(client, "/Users", params={"sortBy": f"{OKTA_EXT}:score"})
        refused = await client.patch(
            f"/Users/{a['id']}", json=patch_body({"op": "replace", "path": f"{OKTA_EXT}:score", "value": "high"})
        )
        fetched = await get_ok(client, f"/Users/{a['id']}")

    assert adopted == [
        f"Declared {OKTA_EXT} (User) for tenant acme: costCenter (string), floors (integer[]), hired (dateTime), "
        "remote (boolean), score (decimal). Servers use the change within 10 seconds."
    ]
    assert [attr["type"] for attr in schema["attributes"]] == ["string", "integer", "dateTime", "boolean", "decimal"]
    assert [r["id"] for r in found["Resources"]] == [a["id"]]
    assert [r["id"] for r in later["Resources"]] == [a["id"]]
    assert [r["userName"] for r in scored["Resources"]][:2] == ["a", "b"]
    assert "score" in assert_scim_error(refused, 400, "invalidValue")["detail"]
    assert fetched[OKTA_EXT] == a[OKTA_EXT]
    assert cli.ok("schema", "learned", "acme")[0].startswith(ENTRA_EXT)  # declared now: no longer "learned"
    assert not any(line.startswith(OKTA_EXT) for line in cli.ok("schema", "learned", "acme"))


async def test_a_later_declaration_rekeys_stored_values(
    cli: Cli, tmp_path: Path, settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    """Undeclared strings compare case-insensitively; declared caseExact they must compare exactly,
    on PostgreSQL too (its comparison-key document is recomputed when the schema is declared)."""
    await _seed(acme.client)
    path = tmp_path / "okta.json"
    path.write_bytes(
        orjson.dumps({"id": OKTA_EXT, "attributes": [{"name": "costCenter", "type": "string", "caseExact": True}]})
    )

    cli.ok("schema", "add", "acme", str(path))
    async with client_for(app_with(settings, store), acme.token) as client:
        exact = await get_ok(client, "/Users", params={"filter": f'{OKTA_EXT}:costCenter eq "A-7"'})
        folded = await get_ok(client, "/Users", params={"filter": f'{OKTA_EXT}:costCenter eq "a-7"'})

    assert [r["userName"] for r in exact["Resources"]] == ["a"]
    assert folded["Resources"] == []


async def test_adopt_print_declares_nothing(cli: Cli, acme: TenantAccess) -> None:
    await _seed(acme.client)

    printed = orjson.loads("\n".join(cli.ok("schema", "adopt", "acme", ENTRA_EXT, "--print")))

    assert printed["id"] == ENTRA_EXT
    assert printed["attributes"] == [
        {
            "name": "badge",
            "type": "string",
            "multiValued": False,
            "description": "",
            "required": False,
            "caseExact": False,
            "mutability": "readWrite",
            "returned": "default",
            "uniqueness": "none",
        }
    ]
    assert cli.ok("schema", "list", "acme") == HEADER


async def test_adopt_refuses_what_it_cannot_declare_and_changes_nothing(cli: Cli, acme: TenantAccess) -> None:
    await _seed(acme.client)
    mixed = "urn:acme:mixed:1.0:User"
    await _post(acme.client, "/Users", {"schemas": [USER, mixed], "userName": "m1", mixed: {"v": "x"}})
    await _post(acme.client, "/Users", {"schemas": [USER, mixed], "userName": "m2", mixed: {"v": 1}})
    await _post(
        acme.client, "/Groups", {"schemas": [GROUP, OKTA_EXT], "displayName": "g", OKTA_EXT: {"costCenter": "1"}}
    )

    unseen = cli("schema", "adopt", "acme", "urn:acme:never:1.0:User")
    mixed_types = cli("schema", "adopt", "acme", mixed)
    both_types = cli("schema", "adopt", "acme", OKTA_EXT)
    learned = cli.ok("schema", "learned", "acme")

    assert unseen.exit_code == 1 and "No undeclared data under urn:acme:never:1.0:User" in unseen.stderr
    assert (
        mixed_types.exit_code == 1 and f"No RFC 7643 type fits every value seen of v in {mixed}" in mixed_types.stderr
    )
    assert both_types.exit_code == 1 and "both Users and Groups: say which (--resource-type)" in both_types.stderr
    assert "  v\tno single type (mixed values)\tseen 2 times" in learned
    assert f"{OKTA_EXT}\tGroup\t1 resources" in learned
    assert cli.ok("schema", "list", "acme") == HEADER
    assert cli.ok("schema", "adopt", "acme", OKTA_EXT, "--resource-type", "Group")[0].startswith(
        f"Declared {OKTA_EXT} (Group)"
    )


async def test_a_declaration_takes_over_data_stored_under_another_spelling_of_its_urn(
    cli: Cli, tmp_path: Path, settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    """URNs are case-insensitive: data the IdP sent as `URN:OKTA:…` is the declared `urn:okta:…`
    extension's, and filters (which read the declared spelling) find it once declared."""
    shouted = OKTA_EXT.upper()
    created = await _post(
        acme.client, "/Users", {"schemas": [USER, shouted], "userName": "s", shouted: {"costCenter": "X-1"}}
    )
    path = tmp_path / "okta.json"
    path.write_bytes(orjson.dumps({"id": OKTA_EXT, "attributes": [{"name": "costCenter", "type": "string"}]}))

    cli.ok("schema", "add", "acme", str(path))
    async with client_for(app_with(settings, store), acme.token) as client:
        found = await get_ok(client, "/Users", params={"filter": f'{OKTA_EXT}:costCenter eq "x-1"'})
        fetched = await get_ok(client, f"/Users/{created['id']}")

    assert [r["id"] for r in found["Resources"]] == [created["id"]]
    assert fetched[OKTA_EXT] == {"costCenter": "X-1"} and shouted not in fetched
    assert fetched["schemas"] == [USER, OKTA_EXT]
    assert fetched["meta"]["version"] == created["meta"]["version"]  # the same values: no new version
