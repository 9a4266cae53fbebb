"""Filters over HTTP on a small directory (RFC 7644 §3.4.2.2), as a table of expected userNames."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any

import httpx2
import pytest

from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import USER
from tests.http.scim_checks import assert_list_response
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import patch_ok

pytestmark = pytest.mark.anyio

BJENSEN, ELODIE, STRASSE, LOOKALIKE, NOBODY = "bjensen", "ÉLODIE", "straße", "5012x", "nobody"
ORDER = [BJENSEN, ELODIE, STRASSE, LOOKALIKE, NOBODY]  # creation order: the order of every result
EVERYONE = set(ORDER)

DIRECTORY: list[dict[str, Any]] = [
    {
        "userName": BJENSEN,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": True,
        "externalId": "BJ-1",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        ENTERPRISE: {"department": "R&D", "employeeNumber": "701984", "manager": {"value": "M-1"}},
    },
    {
        "userName": ELODIE,
        "name": {"givenName": "Élodie", "familyName": "O'Malley"},
        "active": False,
        "userType": "Contractor",
        "emails": [{"value": "elodie@Example.org", "type": "work"}],
        ENTERPRISE: {"department": "Sales", "employeeNumber": "42"},
    },
    {
        "userName": STRASSE,
        "displayName": "Groß 50%_x",
        "title": "İstanbul office",
        "active": True,
        "externalId": "bj-1",
    },
    # Matches every LIKE pattern the filters below would make of '%' and '_', and no literal one.
    {"userName": LOOKALIKE, "displayName": "5012x lookalike", "title": "tour guide"},
    {"userName": NOBODY},
]

TABLE: list[tuple[str, set[str]]] = [
    # eq ne co sw ew pr gt ge lt le on a key column (userName: casefolded)
    ('userName eq "BJENSEN"', {BJENSEN}),
    ('userName ne "bjensen"', EVERYONE - {BJENSEN}),
    ('userName co "ENS"', {BJENSEN}),
    ('userName sw "B"', {BJENSEN}),
    ('userName ew "DY"', {NOBODY}),
    ("userName pr", EVERYONE),
    ('userName gt "n"', {ELODIE, STRASSE, NOBODY}),
    ('userName ge "nobody"', {ELODIE, STRASSE, NOBODY}),
    ('userName lt "c"', {BJENSEN, LOOKALIKE}),
    ('userName le "bjensen"', {BJENSEN, LOOKALIKE}),
    ('USERNAME EQ "nobody"', {NOBODY}),
    (f'{USER}:userName sw "N"', {NOBODY}),
    # the same operators read from the JSON document
    ('title eq "tour guide"', {BJENSEN, LOOKALIKE}),
    ('title ne "tour guide"', {STRASSE}),
    ('title co "GUIDE"', {BJENSEN, LOOKALIKE}),
    ('title sw "tour"', {BJENSEN, LOOKALIKE}),
    ('title ew "OFFICE"', {STRASSE}),
    ('title gt "t"', {BJENSEN, LOOKALIKE}),
    ('title lt "t"', {STRASSE}),
    ('title le "TOUR GUIDE"', {BJENSEN, STRASSE, LOOKALIKE}),
    ("title pr", {BJENSEN, STRASSE, LOOKALIKE}),
    ("not (title pr)", {ELODIE, NOBODY}),
    ("title eq null", {ELODIE, NOBODY}),
    ("title ne null", {BJENSEN, STRASSE, LOOKALIKE}),
    ('name.familyName eq "jensen"', {BJENSEN}),
    ('name.familyName sw "o\'m"', {ELODIE}),
    ('name.givenName ew "DIE"', {ELODIE}),
    ('name.familyName lt "k"', {BJENSEN}),
    ('name.familyName ge "k"', {ELODIE}),
    ("name pr", {BJENSEN, ELODIE}),
    ('userType eq "employee"', {BJENSEN}),
    # and / or / not precedence: not > and > or, chains left-associative
    ('userName eq "nobody" or userName eq "5012x" and title pr', {NOBODY, LOOKALIKE}),
    ('(userName eq "nobody" or userName eq "5012x") and title pr', {LOOKALIKE}),
    ('title pr and userName eq "5012x" or userName eq "nobody"', {LOOKALIKE, NOBODY}),
    ('title pr and (userName eq "5012x" or userName eq "nobody")', {LOOKALIKE}),
    ('not (userName eq "nobody" or active eq true)', {ELODIE, LOOKALIKE}),
    ('not(userName eq "nobody")', EVERYONE - {NOBODY}),
    ('not (not (userName eq "nobody"))', {NOBODY}),
    ('active eq true and not (title co "guide")', {STRASSE}),
    # booleans
    ("active eq true", {BJENSEN, STRASSE}),
    ("active eq false", {ELODIE}),
    ("active ne false", {BJENSEN, STRASSE}),
    ("active pr", {BJENSEN, ELODIE, STRASSE}),
    ("not (active eq true)", {ELODIE, LOOKALIKE, NOBODY}),
    ("ACTIVE eq TRUE", {BJENSEN, STRASSE}),
    ('active eq "False"', {ELODIE}),  # Entra sends booleans as strings (Policy.string_booleans)
    # multi-valued emails, valuePath, the implicit `value` sub-attribute
    ('emails.value eq "BABS@jensen.org"', {BJENSEN}),
    ('emails eq "elodie@example.org"', {ELODIE}),
    ('emails co "example"', {BJENSEN, ELODIE}),
    ('emails ew ".ORG"', {BJENSEN, ELODIE}),
    ('emails.type eq "home"', {BJENSEN}),
    ("emails pr", {BJENSEN, ELODIE}),
    ("not (emails pr)", {STRASSE, LOOKALIKE, NOBODY}),
    ("emails eq null", {STRASSE, LOOKALIKE, NOBODY}),
    ('emails[type eq "work" and value co "@example.com"]', {BJENSEN}),
    ('emails[type eq "work" and value co "example.org"]', {ELODIE}),
    # one element must satisfy the whole [...]; outside brackets each test may use another element
    ('emails[type eq "home" and value co "example"]', set()),
    ('emails.type eq "home" and emails.value co "example"', {BJENSEN}),
    ("emails[primary eq true]", {BJENSEN}),
    ("emails[not (primary eq true)]", {BJENSEN, ELODIE}),
    ('emails[type eq "work"].value eq "elodie@example.org"', {ELODIE}),
    ('name[givenName sw "bar" or familyName eq "o\'malley"]', {BJENSEN, ELODIE}),
    # URN-qualified enterprise extension attributes
    (f'{ENTERPRISE}:department eq "r&d"', {BJENSEN}),
    (f'{ENTERPRISE}:employeeNumber sw "70"', {BJENSEN}),
    (f"{ENTERPRISE}:department pr", {BJENSEN, ELODIE}),
    (f"not ({ENTERPRISE}:department pr)", {STRASSE, LOOKALIKE, NOBODY}),
    (f'{ENTERPRISE}:manager eq "m-1"', {BJENSEN}),  # manager compares manager.value
    (f'{ENTERPRISE}:manager.value eq "M-1"', {BJENSEN}),
    (f'{ENTERPRISE.upper()}:DEPARTMENT eq "SALES"', {ELODIE}),
    # Unicode: NFC + full casefolding on both sides ('ß' → "ss", 'İ' → "i̇", 'É' ≡ "E" + U+0301)
    ('userName eq "STRASSE"', {STRASSE}),
    ('userName eq "Straße"', {STRASSE}),
    ('userName ew "SSE"', {STRASSE}),
    ('displayName eq "GROSS 50%_X"', {STRASSE}),
    ('userName eq "élodie"', {ELODIE}),
    ('userName eq "E\u0301LODIE"', {ELODIE}),
    ('name.givenName eq "ÉLODIE"', {ELODIE}),
    ('name.givenName sw "e\u0301"', {ELODIE}),
    ('title sw "İSTANBUL"', {STRASSE}),
    ('title co "i\u0307stanbul"', {STRASSE}),
    ('title co "STANBUL"', {STRASSE}),
    # caseExact externalId: the only case-sensitive attribute here
    ('externalId eq "BJ-1"', {BJENSEN}),
    ('externalId eq "bj-1"', {STRASSE}),
    ('externalId eq "Bj-1"', set()),
    ('externalId co "J"', {BJENSEN}),
    ('externalId sw "b"', {STRASSE}),
    ('externalId gt "a"', {STRASSE}),  # "BJ-1" < "a" < "bj-1" in code point order
    ("externalId pr", {BJENSEN, STRASSE}),
    # LIKE wildcards are literal characters
    ('displayName co "50%_x"', {STRASSE}),
    ('displayName co "%"', {STRASSE}),
    ('displayName co "_"', {STRASSE}),
    ('displayName sw "50%"', set()),
    ('displayName ew "%_X"', {STRASSE}),
    ('userName sw "5_"', set()),
    ('userName co "%"', set()),
    ('displayName co "50%_x" or displayName co "12x"', {STRASSE, LOOKALIKE}),
    # meta
    ('meta.resourceType eq "User"', EVERYONE),
    ('meta.resourceType eq "Group"', set()),
    ('meta.created gt "2000-01-01T00:00:00Z"', EVERYONE),
    ('meta.lastModified lt "2000-01-01T00:00:00Z"', set()),
    ("id pr", EVERYONE),
    ('id eq "no-such-id"', set()),
]


@pytest.fixture
async def directory(client: httpx2.AsyncClient) -> dict[str, dict[str, Any]]:
    created = {}
    for body in DIRECTORY:
        schemas = [USER, ENTERPRISE] if ENTERPRISE in body else [USER]
        created[body["userName"]] = await create_user(client, body["userName"], schemas=schemas, **body)
    return created


def user_names(body: dict[str, Any]) -> list[str]:
    return [r["userName"] for r in body["Resources"]]


def in_order(names: set[str]) -> list[str]:
    return [n for n in ORDER if n in names]


@pytest.mark.parametrize(("text", "expected"), TABLE)
async def test_a_filter_selects_exactly_the_expected_users(
    client: httpx2.AsyncClient, directory: dict[str, Any], text: str, expected: set[str]
) -> None:
    body = await get_ok(client, "/Users", params={"filter": text})

    assert user_names(body) == in_order(expected)
    assert body["totalResults"] == len(expected)


async def test_id_eq_finds_exactly_that_user(client: httpx2.AsyncClient, directory: dict[str, Any]) -> None:
    body = await get_ok(client, "/Users", params={"filter": f'id eq "{directory[ELODIE]["id"]}"'})

    assert user_names(body) == [ELODIE]


async def test_id_is_case_exact(client: httpx2.AsyncClient, directory: dict[str, Any]) -> None:
    body = await get_ok(client, "/Users", params={"filter": f'id eq "{directory[ELODIE]["id"].upper()}"'})

    assert assert_list_response(body, total=0) == []


async def test_meta_last_modified_gt_finds_the_users_changed_since(
    client: httpx2.AsyncClient, directory: dict[str, Any]
) -> None:
    mark = max(u["meta"]["lastModified"] for u in directory.values())
    await asyncio.sleep(0.01)
    await patch_ok(client, f"/Users/{directory[NOBODY]['id']}", {"op": "add", "path": "title", "value": "new"})
    offset = datetime.fromisoformat(mark).astimezone(timezone(timedelta(hours=2))).isoformat(timespec="milliseconds")

    changed = await get_ok(client, "/Users", params={"filter": f'meta.lastModified gt "{mark}"'})
    same_instant_elsewhere = await get_ok(client, "/Users", params={"filter": f'meta.lastModified gt "{offset}"'})
    unchanged = await get_ok(client, "/Users", params={"filter": f'meta.lastModified le "{mark}"'})
    created_after = await get_ok(client, "/Users", params={"filter": f'meta.created gt "{mark}"'})

    assert user_names(changed) == [NOBODY]
    assert user_names(same_instant_elsewhere) == [NOBODY]
    assert user_names(unchanged) == [BJENSEN, ELODIE, STRASSE, LOOKALIKE]
    assert user_names(created_after) == []


async def test_a_meta_date_filter_with_a_non_date_answers_400_invalid_filter(
    client: httpx2.AsyncClient, directory: dict[str, Any]
) -> None:
    response = await client.get("/Users", params={"filter": 'meta.lastModified gt "yesterday"'})

    assert_scim_error(response, 400, "invalidFilter")


async def test_filters_apply_to_groups(client: httpx2.AsyncClient, directory: dict[str, Any]) -> None:
    for name in ("Engineering", "eng-oncall", "Sales"):
        await create_group(client, name)

    body = await get_ok(client, "/Groups", params={"filter": 'displayName sw "ENG" and not (displayName co "-")'})

    assert [g["displayName"] for g in body["Resources"]] == ["Engineering"]


async def test_a_filter_is_paged_and_counted_as_a_whole(client: httpx2.AsyncClient, directory: dict[str, Any]) -> None:
    body = await get_ok(client, "/Users", params={"filter": "not (title pr)", "startIndex": 2, "count": 1})

    assert user_names(body) == [NOBODY]
    assert_list_response(body, total=2, start_index=2)


MALFORMED = [
    "userName eq",
    'userName eq "unterminated',
    'userName xx "a"',
    '(userName eq "a"',
    'userName eq "a" and',
    'userName eq "a" )',
    "userName",
    'emails[type eq "work"',
    'emails[type eq "work"]]',
    'emails[emails[type eq "x"]]',
    'userName eq "a" or or',
    'not userName eq "a"',
    "userName eq tru",
    'userName eq "a" and emails[type eq "x"',
]


async def test_a_blank_filter_lists_everything(client: httpx2.AsyncClient, directory: dict[str, Any]) -> None:
    body = await get_ok(client, "/Users", params={"filter": "   "})

    assert user_names(body) == ORDER


@pytest.mark.parametrize("text", MALFORMED)
async def test_a_malformed_filter_answers_400_invalid_filter_naming_a_position(
    client: httpx2.AsyncClient, directory: dict[str, Any], text: str
) -> None:
    body = assert_scim_error(await client.get("/Users", params={"filter": text}), 400, "invalidFilter")

    found = re.search(r"position (\d+)", body["detail"])
    assert found, body["detail"]
    assert 0 <= int(found.group(1)) <= len(text)


@pytest.mark.parametrize(
    ("text", "attribute"),
    [
        ('noSuchAttribute eq "x"', "noSuchAttribute"),
        ('name.noSuchPart eq "x"', "name.noSuchPart"),
        (f'{ENTERPRISE}:noSuch eq "x"', f"{ENTERPRISE}:noSuch"),
        ('urn:example:unknown:2.0:User:thing eq "x"', "urn:example:unknown:2.0:User:thing"),
        ('emails[noSuch eq "work"]', "noSuch"),
        ('userName eq "a" and members pr', "members"),
        ("groupz pr", "groupz"),
    ],
)
async def test_an_unknown_attribute_answers_400_invalid_filter(
    client: httpx2.AsyncClient, directory: dict[str, Any], text: str, attribute: str
) -> None:
    body = assert_scim_error(await client.get("/Users", params={"filter": text}), 400, "invalidFilter")

    assert "unknown" in body["detail"].lower()
    assert attribute in body["detail"]
    assert re.search(r"position \d+", body["detail"]), body["detail"]


@pytest.mark.parametrize(
    "text",
    [
        "active gt true",
        "active ge false",
        "active lt true",
        "active le false",
        'active co "t"',
        'active sw "t"',
        "emails.primary gt false",
        "emails[primary ge true]",
    ],
)
async def test_an_ordering_or_substring_operator_on_a_boolean_answers_400_invalid_filter(
    client: httpx2.AsyncClient, directory: dict[str, Any], text: str
) -> None:
    body = assert_scim_error(await client.get("/Users", params={"filter": text}), 400, "invalidFilter")

    assert "boolean" in body["detail"]


@pytest.mark.parametrize(
    "text",
    [
        'name co "x"',  # name has no `value` sub-attribute to compare implicitly
        'name eq "Jensen"',
        'meta eq "x"',
        'title[value eq "x"]',  # [...] on a simple attribute
        'emails.value[type eq "work"]',
        "userName eq 5",
        "active eq 1",
        "title gt 5",
    ],
)
async def test_a_comparison_that_makes_no_sense_answers_400_invalid_filter(
    client: httpx2.AsyncClient, directory: dict[str, Any], text: str
) -> None:
    assert_scim_error(await client.get("/Users", params={"filter": text}), 400, "invalidFilter")


@pytest.mark.parametrize(
    ("text", "offending"),
    [
        ('noSuch eq "x"', 0),
        ('userName eq "a" and noSuch pr', 20),
        ('userName eq "a" or userName gt 5', 19),
    ],
)
async def test_every_invalid_filter_detail_uses_the_same_zero_based_position(
    client: httpx2.AsyncClient, text: str, offending: int
) -> None:
    body = assert_scim_error(await client.get("/Users", params={"filter": text}), 400, "invalidFilter")

    assert f"position {offending} " in body["detail"] or f"position {offending}:" in body["detail"]
