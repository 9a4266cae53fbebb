"""Projection: ``attributes`` / ``excludedAttributes`` against ``returned`` (RFC 7644 §3.4.2.5, RFC 7643 §7).

``always`` (id) is returned whatever is asked, ``never`` (password) never, ``default`` unless
excluded or another set is requested, ``request`` only when named. No built-in attribute is
returned=request, so a test extension (``TESTED``) adds one.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest

from scimhub.errors import InvalidValue
from scimhub.schema.model import JsonDoc
from scimhub.schema.project import parse_projection
from scimhub.schema.project import project
from scimhub.schema.registry import ENTERPRISE_USER_SCHEMA as ENTERPRISE
from scimhub.schema.registry import GROUP_SCHEMA
from scimhub.schema.registry import USER_SCHEMA
from scimhub.schema.registry import default_registry
from scimhub.schema.registry import schema_from_json

REGISTRY = default_registry()
USER = REGISTRY.resource_type("User")
GROUP = REGISTRY.resource_type("Group")
COMMON = REGISTRY.common
EXT = "urn:example:params:scim:schemas:extension:test:2.0:User"
TEST_EXTENSION = schema_from_json(
    {
        "id": EXT,
        "name": "Test",
        "attributes": [
            {"name": "badgeNumber", "type": "integer"},
            {"name": "recoveryCode", "type": "string", "returned": "request"},
        ],
    }
)
TESTED = dataclasses.replace(USER, extensions=(*USER.extensions, (TEST_EXTENSION, False)))
SCHEMAS = [USER_SCHEMA, ENTERPRISE, EXT]
USER_ID = "2819c223-7f76-453a-919d-413861904646"
META = {
    "resourceType": "User",
    "created": "2010-01-23T04:56:22Z",
    "lastModified": "2011-05-13T04:42:34Z",
    "location": f"https://example.com/v2/Users/{USER_ID}",
    "version": 'W/"3694e05e9dff590"',
}
# A rendered user, with a password that must never leave (as if a store had kept it).
BJENSEN: JsonDoc = {
    "schemas": SCHEMAS,
    "id": USER_ID,
    "externalId": "bjensen",
    "userName": "bjensen@example.com",
    "password": "t1meMa$heen",
    "name": {"familyName": "Jensen", "givenName": "Barbara"},
    "displayName": "Babs Jensen",
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}],
    ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": "26118915"}},
    EXT: {"badgeNumber": 7, "recoveryCode": "R-123"},
    "meta": META,
}
DEFAULT_VIEW: JsonDoc = {key: value for key, value in BJENSEN.items() if key not in ("password", EXT)} | {
    EXT: {"badgeNumber": 7}
}


def view(attributes: str | None = None, excluded: str | None = None) -> JsonDoc:
    snapshot = copy.deepcopy(BJENSEN)
    projected = project(BJENSEN, TESTED, COMMON, parse_projection(TESTED, COMMON, attributes, excluded))
    assert BJENSEN == snapshot
    return projected


def only(**attributes: object) -> JsonDoc:
    """What a response carries when ``attributes`` names exactly these (schemas and id always)."""
    return {"schemas": SCHEMAS, "id": USER_ID, **attributes}


def test_the_default_view_has_every_default_attribute_and_no_password() -> None:
    assert view() == DEFAULT_VIEW


@pytest.mark.parametrize(
    ("attributes", "excluded"),
    [
        (None, None),
        ("userName", None),
        ("password", None),
        (None, "password"),
        ("name.givenName,emails", None),
        (f"{ENTERPRISE}", None),
    ],
)
def test_a_password_is_never_returned(attributes: str | None, excluded: str | None) -> None:
    assert "password" not in view(attributes, excluded)


@pytest.mark.parametrize(
    ("attributes", "excluded"),
    [(None, None), ("userName", None), (None, "id"), ("name.givenName", "id"), (ENTERPRISE, "id")],
)
def test_the_id_and_schemas_are_always_returned(attributes: str | None, excluded: str | None) -> None:
    projected = view(attributes, excluded)
    assert projected["id"] == USER_ID
    assert projected["schemas"] == SCHEMAS


@pytest.mark.parametrize("attributes", ["userName", "USERNAME", f"{USER_SCHEMA}:userName", " userName "])
def test_attributes_user_name_gives_schemas_id_and_user_name_only(attributes: str) -> None:
    assert view(attributes) == only(userName="bjensen@example.com")


ATTRIBUTES = [
    pytest.param("name.givenName", only(name={"givenName": "Barbara"}), id="sub-attribute"),
    pytest.param("NAME.GIVENNAME", only(name={"givenName": "Barbara"}), id="sub-attribute-any-case"),
    pytest.param(
        "emails.value",
        only(emails=[{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}]),
        id="multi-valued-sub-attribute",
    ),
    pytest.param(
        "emails.value,emails.type",
        only(emails=[{"value": "bjensen@example.com", "type": "work"}, {"value": "babs@jensen.org", "type": "home"}]),
        id="two-sub-attributes",
    ),
    pytest.param("name", only(name=BJENSEN["name"]), id="whole-complex"),
    pytest.param("name,name.givenName", only(name=BJENSEN["name"]), id="whole-complex-wins"),
    pytest.param("name.givenName,name", only(name=BJENSEN["name"]), id="whole-complex-wins-in-any-order"),
    pytest.param("groups", only(groups=BJENSEN["groups"]), id="read-only"),
    pytest.param("meta.created", only(meta={"created": META["created"]}), id="meta-sub-attribute"),
    pytest.param(
        f"{ENTERPRISE}:department", only(**{ENTERPRISE: {"department": "Tour Operations"}}), id="extension-attribute"
    ),
    pytest.param(
        f"{ENTERPRISE}:manager.value", only(**{ENTERPRISE: {"manager": {"value": "26118915"}}}), id="extension-sub"
    ),
    pytest.param(ENTERPRISE, only(**{ENTERPRISE: BJENSEN[ENTERPRISE]}), id="whole-extension"),
    pytest.param(ENTERPRISE.upper(), only(**{ENTERPRISE: BJENSEN[ENTERPRISE]}), id="whole-extension-any-case"),
    pytest.param(f"{EXT}:recoveryCode", only(**{EXT: {"recoveryCode": "R-123"}}), id="returned-request"),
    pytest.param(
        USER_SCHEMA,
        {k: v for k, v in DEFAULT_VIEW.items() if not k.startswith("urn:")},
        id="the-core-schema-is-its-attributes",
    ),
]


@pytest.mark.parametrize(("attributes", "expected"), ATTRIBUTES)
def test_attributes_select_exactly_what_they_name(attributes: str, expected: JsonDoc) -> None:
    assert view(attributes) == expected


def without(*keys: str, **replaced: object) -> JsonDoc:
    return {key: value for key, value in DEFAULT_VIEW.items() if key not in keys} | replaced


EXCLUDED = [
    pytest.param("userName", without("userName"), id="attribute"),
    pytest.param("USERNAME,displayName", without("userName", "displayName"), id="two-any-case"),
    pytest.param("name.givenName", without(name={"familyName": "Jensen"}), id="sub-attribute"),
    pytest.param(
        "emails.value",
        without(emails=[{"type": "work", "primary": True}, {"type": "home"}]),
        id="multi-valued-sub-attribute",
    ),
    pytest.param("groups", without("groups"), id="read-only"),
    pytest.param("meta", without("meta"), id="meta"),
    pytest.param(
        f"{ENTERPRISE}:department",
        without(**{ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "26118915"}}}),
        id="extension-attribute",
    ),
    pytest.param(
        USER_SCHEMA.upper(),
        {"schemas": SCHEMAS, "id": USER_ID, ENTERPRISE: DEFAULT_VIEW[ENTERPRISE], EXT: DEFAULT_VIEW[EXT]},
        id="the-core-schema-is-its-attributes",
    ),
    pytest.param("id", DEFAULT_VIEW, id="returned-always-cannot-be-excluded"),
]


@pytest.mark.parametrize(("excluded", "expected"), EXCLUDED)
def test_excluded_attributes_remove_what_they_name_from_the_default_view(excluded: str, expected: JsonDoc) -> None:
    assert view(excluded=excluded) == expected


def test_a_returned_request_attribute_needs_to_be_named() -> None:
    assert "recoveryCode" not in view()[EXT]
    assert "recoveryCode" not in view(excluded="userName")[EXT]
    assert view(f"{EXT}:recoveryCode,userName")[EXT] == {"recoveryCode": "R-123"}


def test_attributes_take_precedence_over_excluded_attributes() -> None:
    """RFC 7644 §3.4.2.5: the two parameters are not meant to be combined; ``attributes`` wins."""
    assert view("userName", "userName") == only(userName="bjensen@example.com")


MEMBERS = GROUP.schema.attribute("members")
ID = COMMON.attribute("id")
PASSWORD = USER.schema.attribute("password")


@pytest.mark.parametrize(
    ("attributes", "excluded", "includes"),
    [
        (None, None, True),
        (None, "members", False),
        (None, "MEMBERS", False),
        (None, f"{GROUP_SCHEMA}:members", False),
        (None, "members.display", True),  # some of each member is still returned
        (None, "displayName", True),
        ("displayName", None, False),
        ("members", None, True),
        ("members.value", None, True),
    ],
)
def test_projection_tells_whether_group_members_are_needed(
    attributes: str | None, excluded: str | None, includes: bool
) -> None:
    """Entra reads groups with excludedAttributes=members: the store then skips loading them."""
    assert MEMBERS is not None
    assert parse_projection(GROUP, COMMON, attributes, excluded).includes(MEMBERS) is includes


@pytest.mark.parametrize(("attributes", "excluded"), [(None, None), ("displayName", None), (None, "id")])
def test_projection_always_includes_id_and_never_a_password(attributes: str | None, excluded: str | None) -> None:
    assert ID is not None
    assert PASSWORD is not None
    assert parse_projection(GROUP, COMMON, attributes, excluded).includes(ID)
    assert not parse_projection(USER, COMMON, "password", excluded).includes(PASSWORD)


def test_excluding_a_whole_extension_drops_its_container() -> None:
    from scimhub.schema.project import parse_projection
    from scimhub.schema.project import project
    from scimhub.schema.registry import default_registry

    registry = default_registry()
    rtype = registry.resource_type("User")
    ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    doc = {"schemas": [rtype.schema.id, ext], "id": "1", "userName": "a", ext: {"department": "R&D"}}
    projection = parse_projection(rtype, registry.common, None, ext)
    assert project(doc, rtype, registry.common, projection) == {
        "schemas": [rtype.schema.id, ext],
        "id": "1",
        "userName": "a",
    }


@pytest.mark.parametrize("names", ["nope", "userName,nope", "name.nope", "urn:x:y:z", f"{ENTERPRISE}:nope"])
@pytest.mark.parametrize("parameter", ["attributes", "excludedAttributes"])
def test_an_unknown_name_is_invalid_like_an_unknown_sort_by(parameter: str, names: str) -> None:
    """One rule for every name in a query (RFC 7644 §3.9, §3.4.2.3): a misspelt name is refused,
    never silently dropped (which would change what the response holds)."""
    args = (names, None) if parameter == "attributes" else (None, names)
    with pytest.raises(InvalidValue, match=f"^{parameter} names an unknown attribute: '"):
        parse_projection(TESTED, COMMON, *args)


@pytest.mark.parametrize("parameter", ["attributes", "excludedAttributes"])
def test_a_urn_no_schema_declares_selects_undeclared_data_when_the_tenant_keeps_it(parameter: str) -> None:
    """policy.keep_undeclared_extensions: data under an undeclared URN is kept, so its URN and
    `urn:…:attr` are names of it (strict tenants: unknown names, refused above)."""
    ext = "urn:x:y:z"
    doc = {"schemas": [TESTED.schema.id, ext], "id": "1", "userName": "a", ext: {"a": 1, "b": 2}}
    whole = (ext, None) if parameter == "attributes" else (None, ext)
    one = (f"{ext}:A", None) if parameter == "attributes" else (None, f"{ext}:a")

    selected = project(doc, TESTED, COMMON, parse_projection(TESTED, COMMON, *whole, undeclared=True))
    attribute = project(doc, TESTED, COMMON, parse_projection(TESTED, COMMON, *one, undeclared=True))

    if parameter == "attributes":
        assert selected == {"schemas": doc["schemas"], "id": "1", ext: {"a": 1, "b": 2}}
        assert attribute == {"schemas": doc["schemas"], "id": "1", ext: {"a": 1}}
    else:
        assert selected == {"schemas": doc["schemas"], "id": "1", "userName": "a"}
        assert attribute == {"schemas": doc["schemas"], "id": "1", "userName": "a", ext: {"b": 2}}


def test_names_of_other_resource_types_can_be_ignored() -> None:
    """Root searches: each type ignores the names only another type has."""
    projection = parse_projection(GROUP, COMMON, "displayName,userName", "emails", ignore_unknown=True)
    assert projection == parse_projection(GROUP, COMMON, "displayName", None)
