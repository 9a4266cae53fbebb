"""The SQL compiler agrees with the in-memory evaluator (the oracle) on a fixed directory."""

from __future__ import annotations

from typing import Any

import pytest

from scimhub.filter.bind import bind_filter
from scimhub.filter.evaluate import matches
from scimhub.filter.parser import parse_filter
from scimhub.protocol.context import Principal
from scimhub.protocol.context import RequestContext
from scimhub.protocol.resources import ResourceService
from scimhub.protocol.tenants import create_tenant
from scimhub.schema.project import Projection
from scimhub.schema.registry import default_registry
from scimhub.store.base import Query
from scimhub.store.sql import SqlStore

pytestmark = pytest.mark.anyio

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

USERS: list[dict[str, Any]] = [
    {
        "userName": "bjensen",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "title": "Tour Guide",
        "userType": "Employee",
        "active": True,
        "externalId": "BJ-1",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        ENTERPRISE: {"department": "R&D", "employeeNumber": "701984", "manager": {"value": "m1"}},
    },
    {
        "userName": "ÉLODIE",
        "name": {"familyName": "O'Malley", "givenName": "Élodie"},
        "active": False,
        "userType": "Contractor",
        "nickName": "",
        "emails": [{"value": "elodie@Example.org", "type": "work"}],
        ENTERPRISE: {"department": "Sales"},
    },
    {
        "userName": "straße",
        "displayName": "Groß 50%_x",
        "active": True,
        "title": "İstanbul office",
        "phoneNumbers": [{"value": "+1 555", "type": "mobile"}],
        "externalId": "bj-1",
    },
    {"userName": "nobody"},
]

FILTERS = [
    'userName eq "BJENSEN"',
    'userName eq "élodie"',
    'userName eq "STRASSE"',
    'userName ne "bjensen"',
    'userName co "ENS"',
    'userName sw "b"',
    'userName ew "ße"',
    'userName gt "m"',
    'userName le "nobody"',
    'externalId eq "BJ-1"',
    'externalId eq "bj-1"',
    'externalId co "J"',
    "externalId pr",
    'name.familyName co "O\'Malley"',
    'name.familyName eq "jensen"',
    'name.givenName sw "é"',
    "name pr",
    "title pr",
    'title eq "i̇stanbul office"',
    "nickName pr",
    "nickName eq null",
    "title ne null",
    'displayName co "50%_x"',
    'displayName co "50%"',
    'displayName co "%"',
    'displayName co "_"',
    "active eq true",
    "active eq false",
    "active ne true",
    "active pr",
    'emails.value eq "BABS@jensen.org"',
    'emails co "example"',
    'emails.type eq "home"',
    "emails pr",
    'emails[type eq "work" and value co "@example.com"]',
    'emails[type eq "work"].value eq "elodie@example.org"',
    'emails[not (type eq "work")]',
    "emails[primary eq true]",
    'phoneNumbers[type eq "mobile"]',
    "not (emails pr)",
    'not (userName eq "bjensen")',
    'not (title co "x")',
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    f'{ENTERPRISE}:department eq "r&d"',
    f'{ENTERPRISE}:manager.value eq "m1"',
    f"{ENTERPRISE}:manager pr",
    f'{ENTERPRISE}:employeeNumber gt "7"',
    'meta.resourceType eq "User"',
    'meta.created gt "2000-01-01T00:00:00Z"',
    'meta.lastModified lt "2000-01-01T00:00:00Z"',
    "id pr",
    'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B"',
    'userName eq "a" or userName eq "b" and userName eq "c"',
]


@pytest.fixture
async def directory(store: SqlStore) -> tuple[str, list[dict[str, Any]]]:
    tenant = await create_tenant(store, "acme")
    service = ResourceService(store, default_registry())
    ctx = RequestContext(Principal(tenant.id, "t"), "http://x/scim/v2")
    rtype = default_registry().resource_type("User")
    docs = []
    for body in USERS:
        result = await service.create(ctx, rtype, {"schemas": [rtype.schema.id, ENTERPRISE], **body}, Projection())
        docs.append(result.doc)
    return tenant.id, docs


@pytest.mark.parametrize("text", FILTERS)
async def test_sql_filter_agrees_with_the_in_memory_evaluator(
    store: SqlStore, directory: tuple[str, list[dict[str, Any]]], text: str
) -> None:
    tenant_id, docs = directory
    registry = default_registry()
    rtype = registry.resource_type("User")
    bound = bind_filter(parse_filter(text), rtype, registry.common, text)
    expected = sorted(d["userName"] for d in docs if matches(bound, d))
    page = await store.search(tenant_id, Query("User", bound, 1, 100))
    assert sorted(r.doc["userName"] for r in page.resources) == expected
    assert page.total == len(expected)
