"""List items spliced onto the stored JSON text (``render_json``) are exactly what ``render`` gives.

A list page in the default projection never parses the stored documents: ``id``, ``groups`` /
``members`` and ``meta`` are appended to the text. Any escaping or key slip there would only show
in list responses, so the splice is compared with ``render`` of the same resource, and list pages
with ``GET`` of each resource.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import orjson
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import scimhub.protocol.resources as resources_module
from scimhub.policy import Policy
from scimhub.protocol.render import render
from scimhub.protocol.render import render_json
from scimhub.protocol.render import render_page_json
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.registry import ENTERPRISE_USER_SCHEMA
from scimhub.schema.registry import GROUP_SCHEMA
from scimhub.schema.registry import USER_SCHEMA
from scimhub.schema.registry import default_registry
from scimhub.schema.validate import Context
from scimhub.schema.validate import validate_resource
from scimhub.store.base import MemberRef
from scimhub.store.base import StoredResource
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok

REGISTRY = default_registry()
USERS = REGISTRY.resource_type("User")
GROUPS = REGISTRY.resource_type("Group")
BASE_URL = "https://scim.example.com/scim/v2"
CREATED = "2026-01-02T03:04:05.678901+00:00"
MODIFIED = "2026-02-03T04:05:06.789012+00:00"
RESOURCE_ID = "2819c223-7f76-453a-919d-413861904646"
# No U+0000: validation refuses it (tests/http/test_nul_characters.py), so no stored text holds one.
TRICKY = 'Ünïcødé "quoted" back\\slash \\" \u2028 \x01\x1f\x7f 🙂 </script>'


def validated(body: JsonDoc, rtype: ResourceType) -> JsonDoc:
    """The document the store keeps: what validate_resource makes of a create body."""
    return validate_resource(body, rtype, REGISTRY.common, Context.CREATE, Policy.strict())


def stored_from_text(
    doc: JsonDoc, rtype: ResourceType, id: str = "2819c223-7f76-453a-919d-413861904646"
) -> StoredResource:
    """A resource as the store reads it: the document's JSON text, not yet parsed."""
    return StoredResource.from_json(id, rtype.id, orjson.dumps(doc).decode(), CREATED, MODIFIED, 7)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate keys: {keys}"
    return dict(pairs)


def spliced(stored: StoredResource, rtype: ResourceType, related: list[MemberRef] | None) -> JsonDoc:
    """``render_json`` as a client reads it: serialised inside a list, parsed back. The text must
    also hold each key once (orjson would silently keep the last of a duplicate)."""
    fragment = render_json(stored, rtype, REGISTRY, BASE_URL, related)
    assert fragment is not None
    text = bytes(orjson.dumps([fragment]))
    # A page's items (render_page_json) are the same text.
    paged = render_page_json([stored], rtype, REGISTRY, BASE_URL, {stored.id: related} if related else {})
    assert bytes(orjson.dumps(paged)) == text
    json.loads(text, object_pairs_hook=_unique_keys)
    item: JsonDoc = orjson.loads(text)[0]
    return item


USER_DOC = validated(
    {
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "userName": "bjensen@example.com",
        "externalId": 'ext-"1"\\',
        "name": {"givenName": "Bärbel", "familyName": 'O"Brien\\Jensen', "formatted": TRICKY},
        "displayName": "Babs \u00e9\u0301 Jensen",
        "title": TRICKY,
        "active": True,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "bärbel@exämple.org", "type": "home", "display": TRICKY},
        ],
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "department": 'R&D "core"', "manager": {"value": "m-1"}},
        # readOnly on input: validation drops them, so the splice can append its own.
        "id": "client-id",
        "meta": {"resourceType": "Group"},
        "groups": [{"value": "g-1"}],
    },
    USERS,
)
GROUP_DOC = validated({"schemas": [GROUP_SCHEMA], "displayName": TRICKY, "externalId": "grp\\1"}, GROUPS)
GROUP_REFS = [MemberRef("g-1", "Group", "Admins"), MemberRef("g-2", "Group", None), MemberRef("g-3", "Group", TRICKY)]
MEMBER_REFS = [MemberRef("u-1", "User", "Babs"), MemberRef("g-9", "Group", None), MemberRef("u-2", "User", TRICKY)]


def test_validated_documents_carry_schemas_and_no_server_attributes() -> None:
    # The splice relies on this (render_json's docstring): no duplicate id, meta, groups or members.
    for doc in (USER_DOC, GROUP_DOC):
        assert "schemas" in doc
        assert not {"id", "meta", "groups", "members"} & doc.keys()


@pytest.mark.parametrize("related", [None, [], GROUP_REFS[:1], GROUP_REFS], ids=["none", "empty", "one", "several"])
def test_a_spliced_user_equals_the_rendered_user(related: list[MemberRef] | None) -> None:
    stored = stored_from_text(USER_DOC, USERS)

    item = spliced(stored, USERS, related)

    assert item == render(stored, USERS, REGISTRY, BASE_URL, related)
    assert ("groups" in item) is bool(related)
    assert item["meta"]["version"] == 'W/"7"'


@pytest.mark.parametrize("related", [None, [], MEMBER_REFS[:1], MEMBER_REFS], ids=["none", "empty", "one", "several"])
def test_a_spliced_group_equals_the_rendered_group(related: list[MemberRef] | None) -> None:
    stored = stored_from_text(GROUP_DOC, GROUPS)

    item = spliced(stored, GROUPS, related)

    assert item == render(stored, GROUPS, REGISTRY, BASE_URL, related)
    assert ("members" in item) is bool(related)


def test_the_splice_leaves_the_stored_text_unparsed() -> None:
    # The point of the splice: a list page never pays for parsing the documents.
    stored = stored_from_text(USER_DOC, USERS)

    spliced(stored, USERS, GROUP_REFS)

    assert stored._doc is None


def test_a_resource_not_read_from_the_database_has_no_splice() -> None:
    # Built from a parsed document (a write's result): no text to splice onto, the caller renders.
    stored = StoredResource("id-1", "User", USER_DOC, CREATED, MODIFIED, 1)

    assert stored.doc_json is None
    assert render_json(stored, USERS, REGISTRY, BASE_URL, GROUP_REFS) is None


# -- property: any string values --------------------------------------------------------------

# Every code point a stored string can hold (no lone surrogates, which JSON text cannot carry, and
# no U+0000, which validation refuses), weighted towards the ones that need escaping.
texts = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=12) | st.text(
    alphabet='"\\/\x01\x1f\x7f\u2028\u2029 é🙂', max_size=8
)
ids = st.text(min_size=1, max_size=40)
member_refs = st.builds(MemberRef, ids, st.sampled_from(["User", "Group"]), st.none() | texts)
user_bodies = st.fixed_dictionaries(
    {"schemas": st.just([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]), "userName": texts.filter(str.strip)},
    optional={
        "externalId": texts,
        "displayName": texts,
        "title": texts,
        "active": st.booleans(),
        "name": st.fixed_dictionaries({}, optional={"givenName": texts, "familyName": texts, "formatted": texts}),
        "emails": st.lists(
            st.fixed_dictionaries(
                {"value": texts}, optional={"type": texts, "display": texts, "primary": st.booleans()}
            ),
            max_size=3,
        ),
        ENTERPRISE_USER_SCHEMA: st.fixed_dictionaries(
            {}, optional={"department": texts, "employeeNumber": texts, "manager": st.builds(dict, value=texts)}
        ),
    },
)
group_bodies = st.fixed_dictionaries(
    {"schemas": st.just([GROUP_SCHEMA]), "displayName": texts.filter(str.strip)}, optional={"externalId": texts}
)


@settings(max_examples=300, deadline=None)
@given(
    resource=st.one_of(st.tuples(user_bodies, st.just(USERS)), st.tuples(group_bodies, st.just(GROUPS))),
    id=ids,
    related=st.none() | st.lists(member_refs, max_size=4),
)
def test_any_spliced_resource_equals_the_rendered_one(
    resource: tuple[JsonDoc, ResourceType], id: str, related: list[MemberRef] | None
) -> None:
    body, rtype = resource
    stored = stored_from_text(validated(body, rtype), rtype, id)

    assert spliced(stored, rtype, related) == render(stored, rtype, REGISTRY, BASE_URL, related)


timestamps = st.sampled_from([CREATED, MODIFIED, "2026-12-07T14:18:20.123Z"]) | texts


@settings(max_examples=300, deadline=None)
@given(
    body=user_bodies,
    items=st.lists(st.tuples(ids, timestamps, timestamps, st.integers(min_value=1, max_value=10**12)), max_size=4),
    base_url=st.sampled_from([BASE_URL, "http://x"]) | texts,
    with_refs=st.booleans(),
)
def test_a_page_from_its_template_is_byte_identical_to_the_dumped_items(
    body: JsonDoc, items: list[tuple[str, str, str, int]], base_url: str, with_refs: bool
) -> None:
    """A page's items formatted from its template (ids, timestamps and a base URL JSON writes
    verbatim) or dumped (any other value, or an item with related resources) are, byte for byte,
    what ``render_json`` writes for each."""
    text = orjson.dumps(validated(body, USERS)).decode()
    stored = [StoredResource.from_json(id, "User", text, created, modified, v) for id, created, modified, v in items]
    related = {s.id: GROUP_REFS for s in stored[:1]} if with_refs else {}

    page = render_page_json(stored, USERS, REGISTRY, base_url, related)

    assert [orjson.dumps(item) for item in page] == [
        orjson.dumps(render_json(s, USERS, REGISTRY, base_url, related.get(s.id))) for s in stored
    ]


# -- over HTTP: list pages against GET of each resource ---------------------------------------


@pytest.fixture
async def directory(client: httpx2.AsyncClient) -> dict[str, str]:
    """Three users, one of them in a group; returns the ids by userName."""
    babs = await create_user(
        client,
        "bjensen@example.com",
        schemas=[USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        name={"givenName": "Bärbel", "familyName": 'O"Brien\\Jensen'},
        title=TRICKY,
        emails=[{"value": "bjensen@example.com", "type": "work", "primary": True}],
        **{ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "department": 'R&D "core"'}},
    )
    kim = await create_user(client, "kim", emails=[{"value": "kim@example.com"}], active=False)
    lee = await create_user(client, "lee")
    await create_group(client, TRICKY, [kim["id"]])
    return {"bjensen@example.com": babs["id"], "kim": kim["id"], "lee": lee["id"]}


class SpliceSpy:
    """Counts the list items ``render_list`` spliced (so a passing test proves the fast path ran)."""

    def __init__(self) -> None:
        self.spliced = 0

    def __call__(self, *args: Any, **kwargs: Any) -> list[orjson.Fragment | JsonDoc]:
        items = render_page_json(*args, **kwargs)
        self.spliced += sum(isinstance(item, orjson.Fragment) for item in items)
        return items


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> SpliceSpy:
    spy = SpliceSpy()
    monkeypatch.setattr(resources_module, "render_page_json", spy)
    return spy


@pytest.mark.anyio
@pytest.mark.parametrize("cursor", [False, True], ids=["index", "cursor"])
async def test_a_default_list_page_holds_exactly_what_get_returns(
    client: httpx2.AsyncClient, directory: dict[str, str], spy: SpliceSpy, cursor: bool
) -> None:
    page = await get_ok(client, "/Users?cursor" if cursor else "/Users")

    listed = {item["id"]: item for item in page["Resources"]}
    assert sorted(listed) == sorted(directory.values())
    assert spy.spliced == len(directory)
    for id in directory.values():
        assert listed[id] == await get_ok(client, f"/Users/{id}")
    kim = listed[directory["kim"]]
    assert [g["display"] for g in kim["groups"]] == [TRICKY]
    assert kim["meta"]["version"] == (await client.get(f"/Users/{kim['id']}")).headers["ETag"]


@pytest.mark.anyio
async def test_a_default_group_list_page_holds_exactly_what_get_returns(
    client: httpx2.AsyncClient, directory: dict[str, str], spy: SpliceSpy
) -> None:
    page = await get_ok(client, "/Groups")

    (group,) = page["Resources"]
    assert spy.spliced == 1
    assert group == await get_ok(client, f"/Groups/{group['id']}")
    assert [m["value"] for m in group["members"]] == [directory["kim"]]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "params", [{"attributes": "userName"}, {"excludedAttributes": "emails"}], ids=["attributes", "excluded"]
)
async def test_a_projected_list_page_holds_what_get_returns_projected_alike(
    client: httpx2.AsyncClient, directory: dict[str, str], spy: SpliceSpy, params: dict[str, str]
) -> None:
    page = await get_ok(client, "/Users", params=params)

    listed = {item["id"]: item for item in page["Resources"]}
    assert sorted(listed) == sorted(directory.values())
    assert spy.spliced == 0  # a projection renders and projects the parsed document
    for id in directory.values():
        assert listed[id] == await get_ok(client, f"/Users/{id}", params=params)
    if "attributes" in params:
        assert set(listed[directory["kim"]]) == {"schemas", "id", "userName"}
    else:
        assert "emails" not in listed[directory["kim"]]
        assert "groups" in listed[directory["kim"]]
