"""The example resources of RFC 7643 §8.1-§8.4, POSTed and read back.

The bodies are transcribed from the RFC (the x509 certificate without its line breaks).
Every attribute a client may write round-trips exactly; ``id`` and ``meta`` are assigned by
the server, ``password`` is never returned, and readOnly values (``groups``,
``manager.displayName``) are ignored on input. Group members reference users created first.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx2
import pytest

from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import GROUP
from tests.http.scim_checks import SCIM
from tests.http.scim_checks import USER
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import search

pytestmark = pytest.mark.anyio

# RFC 7643 §8.1 Minimal User Representation
MINIMAL_USER: dict[str, Any] = {
    "schemas": [USER],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "userName": "bjensen@example.com",
    "meta": {
        "resourceType": "User",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": 'W\\/"3694e05e9dff590"',
        "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
    },
}

CERTIFICATE = (
    "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"
    "EzARBgNVBAgMCkNhbGlmb3JuaWExFDASBgNVBAoMC2V4YW1wbGUuY29tMRQwEgYD"
    "VQQDDAtleGFtcGxlLmNvbTAeFw0xMTEwMjIwNjI0MzFaFw0xMjEwMDQwNjI0MzFa"
    "MH8xCzAJBgNVBAYTAlVTMRMwEQYDVQQIDApDYWxpZm9ybmlhMRQwEgYDVQQKDAtl"
    "eGFtcGxlLmNvbTEhMB8GA1UEAwwYTXMuIEJhcmJhcmEgSiBKZW5zZW4gSUlJMSIw"
    "IAYJKoZIhvcNAQkBFhNiamVuc2VuQGV4YW1wbGUuY29tMIIBIjANBgkqhkiG9w0B"
    "AQEFAAOCAQ8AMIIBCgKCAQEA7Kr+Dcds/JQ5GwejJFcBIP682X3xpjis56AK02bc"
    "1FLgzdLI8auoR+cC9/Vrh5t66HkQIOdA4unHh0AaZ4xL5PhVbXIPMB5vAPKpzz5i"
    "PSi8xO8SL7I7SDhcBVJhqVqr3HgllEG6UClDdHO7nkLuwXq8HcISKkbT5WFTVfFZ"
    "zidPl8HZ7DhXkZIRtJwBweq4bvm3hM1Os7UQH05ZS6cVDgweKNwdLLrT51ikSQG3"
    "DYrl+ft781UQRIqxgwqCfXEuDiinPh0kkvIi5jivVu1Z9QiwlYEdRbLJ4zJQBmDr"
    "SGTMYn4lRc2HgHO4DqB/bnMVorHB0CC6AV1QoFK4GPe1LwIDAQABo3sweTAJBgNV"
    "HRMEAjAAMCwGCWCGSAGG+EIBDQQfFh1PcGVuU1NMIEdlbmVyYXRlZCBDZXJ0aWZp"
    "Y2F0ZTAdBgNVHQ4EFgQU8pD0U0vsZIsaA16lL8En8bx0F/gwHwYDVR0jBBgwFoAU"
    "dGeKitcaF7gnzsNwDx708kqaVt0wDQYJKoZIhvcNAQEFBQADgYEAA81SsFnOdYJt"
    "Ng5Tcq+/ByEDrBgnusx0jloUhByPMEVkoMZ3J7j1ZgI8rAbOkNngX8+pKfTiDz1R"
    "C4+dx8oU6Za+4NJXUjlL5CvV6BEYb1+QAEJwitTVvxB/A67g42/vzgAtoRUeDov1"
    "+GFiBZ+GNF/cAYKcMtGcrs2i97ZkJMo="
)

# RFC 7643 §8.2 Full User Representation
FULL_USER: dict[str, Any] = {
    "schemas": [USER],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "701984",
    "userName": "bjensen@example.com",
    "name": {
        "formatted": "Ms. Barbara J Jensen, III",
        "familyName": "Jensen",
        "givenName": "Barbara",
        "middleName": "Jane",
        "honorificPrefix": "Ms.",
        "honorificSuffix": "III",
    },
    "displayName": "Babs Jensen",
    "nickName": "Babs",
    "profileUrl": "https://login.example.com/bjensen",
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "addresses": [
        {
            "type": "work",
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "USA",
            "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
            "primary": True,
        },
        {
            "type": "home",
            "streetAddress": "456 Hollywood Blvd",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "USA",
            "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA",
        },
    ],
    "phoneNumbers": [
        {"value": "555-555-5555", "type": "work"},
        {"value": "555-555-4444", "type": "mobile"},
    ],
    "ims": [{"value": "someaimhandle", "type": "aim"}],
    "photos": [
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"},
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/T", "type": "thumbnail"},
    ],
    "userType": "Employee",
    "title": "Tour Guide",
    "preferredLanguage": "en-US",
    "locale": "en-US",
    "timezone": "America/Los_Angeles",
    "active": True,
    "password": "t1meMa$heen",
    "groups": [
        {
            "value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
            "display": "Tour Guides",
        },
        {
            "value": "fc348aa8-3835-40eb-a20b-c726e15c55b5",
            "$ref": "https://example.com/v2/Groups/fc348aa8-3835-40eb-a20b-c726e15c55b5",
            "display": "Employees",
        },
        {
            "value": "71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
            "$ref": "https://example.com/v2/Groups/71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
            "display": "US Employees",
        },
    ],
    "x509Certificates": [{"value": CERTIFICATE}],
    "meta": {
        "resourceType": "User",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": 'W\\/"a330bc54f0671c9"',
        "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
    },
}

# RFC 7643 §8.3 Enterprise User Extension Representation: the full user plus the extension.
ENTERPRISE_USER: dict[str, Any] = {
    **FULL_USER,
    "schemas": [USER, ENTERPRISE],
    ENTERPRISE: {
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {
            "value": "26118915-6090-4610-87e4-49d8ca9f808d",
            "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
            "displayName": "John Smith",
        },
    },
    "meta": {**FULL_USER["meta"], "version": 'W\\/"3694e05e9dff591"'},
}

# RFC 7643 §8.4 Group Representation
BABS_ID = "2819c223-7f76-453a-919d-413861904646"
MANDY_ID = "902c246b-6245-4190-8e05-00816be7344a"
GROUP_EXAMPLE: dict[str, Any] = {
    "schemas": [GROUP],
    "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
    "displayName": "Tour Guides",
    "members": [
        {
            "value": BABS_ID,
            "$ref": f"https://example.com/v2/Users/{BABS_ID}",
            "display": "Babs Jensen",
        },
        {
            "value": MANDY_ID,
            "$ref": f"https://example.com/v2/Users/{MANDY_ID}",
            "display": "Mandy Pepperidge",
        },
    ],
    "meta": {
        "resourceType": "Group",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": 'W\\/"3694e05e9dff592"',
        "location": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
    },
}

SERVER_ASSIGNED = {"id", "meta"}
NEVER_RETURNED = {"password"}
READ_ONLY = {"groups"}


def client_writable(example: dict[str, Any]) -> dict[str, Any]:
    """What the server must hand back unchanged: the example minus server-owned and readOnly parts."""
    expected = {
        k: v for k, v in copy.deepcopy(example).items() if k not in SERVER_ASSIGNED | NEVER_RETURNED | READ_ONLY
    }
    manager = expected.get(ENTERPRISE, {}).get("manager")
    if manager is not None:
        del manager["displayName"]  # readOnly in RFC 7643 §4.3
    return expected


async def _post(client: httpx2.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created["id"] != body["id"]
    assert created["meta"]["created"] != body["meta"]["created"]
    assert created["meta"]["location"] == f"{SCIM}{path}/{created['id']}"
    assert response.headers["Location"] == created["meta"]["location"]
    return created


@pytest.mark.parametrize(
    "example", [MINIMAL_USER, FULL_USER, ENTERPRISE_USER], ids=["8.1-minimal", "8.2-full", "8.3-enterprise"]
)
async def test_an_rfc_user_example_round_trips(client: httpx2.AsyncClient, example: dict[str, Any]) -> None:
    created = await _post(client, "/Users", example)
    fetched = await get_ok(client, f"/Users/{created['id']}")

    for doc in (created, fetched):
        assert {k: v for k, v in doc.items() if k not in SERVER_ASSIGNED} == client_writable(example)
        assert doc["meta"]["resourceType"] == "User"
    assert "t1meMa$heen" not in (await client.get(f"/Users/{created['id']}")).text


@pytest.mark.parametrize("example", [FULL_USER, ENTERPRISE_USER], ids=["8.2-full", "8.3-enterprise"])
async def test_putting_an_rfc_user_example_back_unchanged_keeps_its_version(
    client: httpx2.AsyncClient, example: dict[str, Any]
) -> None:
    created = await _post(client, "/Users", example)

    response = await client.put(f"/Users/{created['id']}", json=example)

    assert response.status_code == 200, response.text
    assert response.json() == created


async def test_the_rfc_full_user_is_found_by_its_lookup_attributes(client: httpx2.AsyncClient) -> None:
    created = await _post(client, "/Users", ENTERPRISE_USER)

    for text in (
        'userName eq "BJENSEN@example.com"',
        'externalId eq "701984"',
        'emails.value eq "babs@jensen.org"',
        'emails[type eq "work"].value eq "bjensen@example.com"',
        f'{ENTERPRISE}:employeeNumber eq "701984"',
    ):
        found = await search(client, "/Users", text)
        assert [r["id"] for r in found["Resources"]] == [created["id"]], text


async def test_the_rfc_group_example_round_trips_with_its_members(client: httpx2.AsyncClient) -> None:
    babs = await _post(client, "/Users", FULL_USER)
    mandy = await _post(
        client,
        "/Users",
        {**MINIMAL_USER, "id": MANDY_ID, "userName": "mpepperidge@example.com", "displayName": "Mandy Pepperidge"},
    )
    ids = {BABS_ID: babs["id"], MANDY_ID: mandy["id"]}
    body = copy.deepcopy(GROUP_EXAMPLE)
    for member in body["members"]:
        member["value"] = ids[member["value"]]
        member["$ref"] = f"{SCIM}/Users/{member['value']}"

    created = await _post(client, "/Groups", body)
    fetched = await get_ok(client, f"/Groups/{created['id']}")

    for doc in (created, fetched):
        assert doc["schemas"] == [GROUP]
        assert doc["displayName"] == "Tour Guides"
        assert sorted(doc["members"], key=lambda m: m["display"]) == [
            {**member, "type": "User"} for member in body["members"]
        ]
    babs_groups = (await get_ok(client, f"/Users/{babs['id']}"))["groups"]
    assert [(g["value"], g["display"]) for g in babs_groups] == [(created["id"], "Tour Guides")]
