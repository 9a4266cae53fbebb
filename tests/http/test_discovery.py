"""Discovery endpoints (RFC 7644 §4; RFC 7643 §5-§7), as Entra's schema discovery reads them."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from scimhub.settings import Settings
from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import GROUP
from tests.http.scim_checks import SCIM
from tests.http.scim_checks import USER
from tests.http.scim_checks import assert_list_response
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import null_paths

pytestmark = pytest.mark.anyio

SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
TYPES = {"string", "boolean", "decimal", "integer", "dateTime", "binary", "reference", "complex"}
MUTABILITY = {"readOnly", "readWrite", "immutable", "writeOnly"}
RETURNED = {"always", "never", "default", "request"}
UNIQUENESS = {"none", "server", "global"}


# -- /ServiceProviderConfig ---------------------------------------------------------------------


async def test_the_service_provider_config_states_what_the_server_supports(
    client: httpx2.AsyncClient, settings: Settings
) -> None:
    spc = await get_ok(client, "/ServiceProviderConfig")

    assert spc["schemas"] == [SPC]
    assert spc["patch"]["supported"] is True
    assert spc["filter"] == {**spc["filter"], "supported": True, "maxResults": settings.max_results}
    assert spc["etag"]["supported"] is True
    assert spc["bulk"] == {
        "supported": True,
        "maxOperations": settings.bulk_max_operations,
        "maxPayloadSize": settings.max_body_bytes,
    }
    assert isinstance(spc["changePassword"]["supported"], bool)
    assert isinstance(spc["sort"]["supported"], bool)
    assert spc["meta"]["location"] == f"{SCIM}/ServiceProviderConfig"
    assert spc["meta"]["resourceType"] == "ServiceProviderConfig"


async def test_the_service_provider_config_lists_an_authentication_scheme(client: httpx2.AsyncClient) -> None:
    schemes = (await get_ok(client, "/ServiceProviderConfig"))["authenticationSchemes"]

    assert schemes
    for scheme in schemes:
        assert scheme["type"]
        assert scheme["name"]
        assert scheme["description"]
    assert "oauthbearertoken" in {s["type"] for s in schemes}


async def test_the_service_provider_config_has_no_nulls(client: httpx2.AsyncClient) -> None:
    assert null_paths(await get_ok(client, "/ServiceProviderConfig")) == []


# -- /ResourceTypes ----------------------------------------------------------------------------


async def test_resource_types_lists_user_then_group(client: httpx2.AsyncClient) -> None:
    resources = assert_list_response(await get_ok(client, "/ResourceTypes"), total=2)

    user, group = resources
    assert user["schemas"] == [RESOURCE_TYPE]
    assert (user["id"], user["name"], user["endpoint"], user["schema"]) == ("User", "User", "/Users", USER)
    assert user["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert (group["id"], group["name"], group["endpoint"], group["schema"]) == ("Group", "Group", "/Groups", GROUP)
    assert group.get("schemaExtensions", []) == []


@pytest.mark.parametrize("name", ["User", "Group"])
async def test_a_resource_type_can_be_read_by_id(client: httpx2.AsyncClient, name: str) -> None:
    listed = await get_ok(client, "/ResourceTypes")

    one = await get_ok(client, f"/ResourceTypes/{name}")

    assert one == next(r for r in listed["Resources"] if r["id"] == name)
    assert one["meta"] == {"resourceType": "ResourceType", "location": f"{SCIM}/ResourceTypes/{name}"}


async def test_resource_types_have_no_nulls(client: httpx2.AsyncClient) -> None:
    assert null_paths(await get_ok(client, "/ResourceTypes")) == []


async def test_an_unknown_resource_type_answers_404(client: httpx2.AsyncClient) -> None:
    assert_scim_error(await client.get("/ResourceTypes/Printer"), 404)


# -- /Schemas ---------------------------------------------------------------------------------


@pytest.fixture
async def schemas(client: httpx2.AsyncClient) -> dict[str, dict[str, Any]]:
    body = await get_ok(client, "/Schemas")
    resources = assert_list_response(body, total=body["totalResults"])
    return {s["id"]: s for s in resources}


async def test_schemas_include_core_user_group_and_enterprise_user(schemas: dict[str, dict[str, Any]]) -> None:
    assert {USER, GROUP, ENTERPRISE} <= set(schemas)
    assert schemas[USER]["name"] == "User"
    assert schemas[USER]["description"] == "User Account"
    assert schemas[GROUP]["name"] == "Group"
    assert schemas[ENTERPRISE]["name"] == "EnterpriseUser"


async def test_schemas_have_no_null_values_anywhere(client: httpx2.AsyncClient) -> None:
    assert null_paths(await get_ok(client, "/Schemas")) == []


async def test_no_internal_schema_is_served(schemas: dict[str, dict[str, Any]]) -> None:
    assert all(urn.startswith("urn:ietf:params:scim:schemas:") for urn in schemas)


def _attributes(attrs: list[dict[str, Any]], parent: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = []
    for attr in attrs:
        name = f"{parent}{attr['name']}"
        out.append((name, attr))
        out += _attributes(attr.get("subAttributes", []), f"{name}.")
    return out


async def test_every_attribute_states_its_characteristics_in_camel_case(
    schemas: dict[str, dict[str, Any]],
) -> None:
    for urn in (USER, GROUP, ENTERPRISE):
        assert schemas[urn]["schemas"] == [SCHEMA]
        for name, attr in _attributes(schemas[urn]["attributes"]):
            assert attr["type"] in TYPES, name
            assert isinstance(attr["multiValued"], bool), name
            assert isinstance(attr["required"], bool), name
            assert attr["mutability"] in MUTABILITY, name
            assert attr["returned"] in RETURNED, name
            assert attr.get("uniqueness", "none") in UNIQUENESS, name
            assert ("subAttributes" in attr) == (attr["type"] == "complex"), name


async def test_the_user_schema_describes_the_attributes_the_server_enforces(
    schemas: dict[str, dict[str, Any]],
) -> None:
    attrs = dict(_attributes(schemas[USER]["attributes"]))

    assert attrs["userName"]["required"] is True
    assert attrs["userName"]["uniqueness"] == "server"
    assert attrs["userName"]["caseExact"] is False
    assert attrs["password"]["returned"] == "never"
    assert attrs["password"]["mutability"] == "writeOnly"
    assert attrs["groups"]["mutability"] == "readOnly"
    assert attrs["emails"]["multiValued"] is True
    assert attrs["emails.value"]["type"] == "string"
    assert "id" not in attrs


async def test_the_group_schema_describes_members(schemas: dict[str, dict[str, Any]]) -> None:
    attrs = dict(_attributes(schemas[GROUP]["attributes"]))

    assert attrs["displayName"]["required"] is True
    assert attrs["members"]["multiValued"] is True
    assert {"members.value", "members.$ref", "members.type", "members.display"} <= set(attrs)


@pytest.mark.parametrize("urn", [USER, GROUP, ENTERPRISE])
async def test_a_schema_can_be_read_by_its_urn(
    client: httpx2.AsyncClient, schemas: dict[str, dict[str, Any]], urn: str
) -> None:
    one = await get_ok(client, f"/Schemas/{urn}")

    assert one == schemas[urn]
    assert one["meta"] == {"resourceType": "Schema", "location": f"{SCIM}/Schemas/{urn}"}


@pytest.mark.parametrize("urn", ["urn:ietf:params:scim:schemas:core:2.0:Printer", "urn:scimhub:common", "User"])
async def test_an_unknown_schema_answers_404(client: httpx2.AsyncClient, urn: str) -> None:
    assert_scim_error(await client.get(f"/Schemas/{urn}"), 404)


async def test_the_schemas_body_names_the_user_account(client: httpx2.AsyncClient) -> None:
    # Microsoft's reference Postman collection looks for this text in GET /Schemas.
    assert "User Account" in (await client.get("/Schemas")).text
