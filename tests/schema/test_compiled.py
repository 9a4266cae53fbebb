"""The compiled validator (schema.compiled, run by validate_resource) against the interpreter it
replaced (tests/schema/reference_validate.py): on generated bodies, valid and not, both give the
same document (key order included), the same ``ignored`` names and the same changes to
``existing``, or raise the same error class with the same message and scimType.

Plans are cached per resource type; the last tests show a tenant's new extension is honoured.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from scimhub.errors import InvalidValue
from scimhub.errors import ScimError
from scimhub.policy import Policy
from scimhub.schema.compiled import MEMO_LIMIT
from scimhub.schema.compiled import plan_for
from scimhub.schema.declare import DeclaredSchema
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.registry import ENTERPRISE_USER_SCHEMA as ENTERPRISE
from scimhub.schema.registry import GROUP_SCHEMA
from scimhub.schema.registry import USER_SCHEMA
from scimhub.schema.registry import default_registry
from scimhub.schema.registry import schema_from_json
from scimhub.schema.registry import tenant_registry
from scimhub.schema.validate import Context
from scimhub.schema.validate import validate_resource
from tests.schema import reference_validate as reference

REGISTRY = default_registry()
COMMON = REGISTRY.common
USER = REGISTRY.resource_type("User")
GROUP = REGISTRY.resource_type("Group")
EXT = "urn:example:params:scim:schemas:extension:test:2.0:User"
EXT_DOCUMENT: JsonDoc = {
    "id": EXT,
    "name": "Test",
    "attributes": [
        {"name": "badgeNumber", "type": "integer"},
        {"name": "score", "type": "decimal"},
        {"name": "hiredAt", "type": "dateTime"},
        {"name": "employeeId", "type": "string", "mutability": "immutable"},
        {"name": "flags", "type": "boolean", "multiValued": True},
        {"name": "badge", "type": "string", "mutability": "readOnly"},
        {"name": "secret", "type": "string", "returned": "never"},
        {
            "name": "devices",
            "type": "complex",
            "multiValued": True,
            "subAttributes": [
                {"name": "serial", "type": "string", "required": True},
                {"name": "kind", "type": "reference"},
                {"name": "issued", "type": "dateTime", "mutability": "readOnly"},
                {"name": "primary", "type": "boolean"},
            ],
        },
        {"name": "members", "type": "string", "multiValued": True},
    ],
}
TESTED = dataclasses.replace(USER, extensions=(*USER.extensions, (schema_from_json(EXT_DOCUMENT), False)))
REQUIRED_EXT = dataclasses.replace(USER, extensions=(*USER.extensions, (schema_from_json(EXT_DOCUMENT), True)))
UNDECLARED = "urn:acme:params:scim:schemas:extension:custom:2.0:User"
RESOURCE_TYPES = (USER, GROUP, TESTED, TESTED, REQUIRED_EXT)

# Names a client may send: canonical, in another case, URN-qualified, URNs alone, unknown ones.
CORE_NAMES = (
    "userName",
    "USERNAME",
    "username",
    "name",
    "displayName",
    "nickName",
    "active",
    "emails",
    "Emails",
    "phoneNumbers",
    "addresses",
    "roles",
    "x509Certificates",
    "password",
    "groups",
    "members",
    "Members",
    "id",
    "externalId",
    "meta",
    "title",
    "userType",
    "nosuch",
    "name.givenName",
)
URN_NAMES = (
    ENTERPRISE,
    ENTERPRISE.upper(),
    f"{ENTERPRISE}:department",
    f"{ENTERPRISE}:manager",
    f"{ENTERPRISE}:Manager",
    f"{ENTERPRISE}:costcenter",
    f"{ENTERPRISE}:nosuch",
    f"{ENTERPRISE}:manager.value",
    USER_SCHEMA,
    f"{USER_SCHEMA}:userName",
    f"{USER_SCHEMA}:nosuch",
    f"{USER_SCHEMA.lower()}:active",
    GROUP_SCHEMA,
    f"{GROUP_SCHEMA}:displayName",
    EXT,
    EXT.upper(),
    f"{EXT}:badgeNumber",
    f"{EXT}:employeeId",
    f"{EXT}:badge",
    f"{EXT}:secret",
    f"{EXT}:devices",
    f"{EXT}:nosuch",
    UNDECLARED,
    f"{UNDECLARED}:costCenter",
    f"{UNDECLARED}:costCenter.code",
    "urn:acme:odd",
    "urn:",
    "URN:x:y",
)
SUB_NAMES = (
    "value",
    "VALUE",
    "type",
    "primary",
    "display",
    "$ref",
    "givenName",
    "familyName",
    "formatted",
    "displayName",
    "department",
    "employeeNumber",
    "manager",
    "badgeNumber",
    "score",
    "hiredAt",
    "employeeId",
    "flags",
    "badge",
    "secret",
    "devices",
    "serial",
    "kind",
    "issued",
    "members",
    "nosuch",
    "costCenter",
)
schema_lists = st.lists(
    st.sampled_from((USER_SCHEMA, USER_SCHEMA.lower(), GROUP_SCHEMA, ENTERPRISE, EXT, UNDECLARED, "urn:x")), max_size=4
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        ("", " ", "true", "False", "TRUE", "yes", "x\x00y", "2008-01-23T04:56:22Z", "2008-01-23", "20080123", "ok")
    ),
    st.text(max_size=30),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(SUB_NAMES) | st.text(max_size=6), inner, max_size=4),
    ),
    max_leaves=12,
)
# Well-formed values for the names above, so that many bodies get as far as being stored.
PLAUSIBLE = (
    "bjensen",
    "x" * 13,
    True,
    "false",
    7,
    2.5,
    None,
    [],
    {},
    {"givenName": "Ada", "familyName": "Lovelace"},
    [{"value": "a@example.com", "type": "work", "primary": True}, {"value": "b@example.com", "primary": "False"}],
    [{"value": "a@example.com"}, None, {}],
    {"value": "m1", "displayName": "Boss", "$ref": "../Users/m1"},
    {"department": "R&D", "manager": {"value": "m1"}, "employeeNumber": "42"},
    {"Department": "R&D", "nosuch": 1, "costCenter": None},
    {
        "badgeNumber": 7,
        "score": 1.5,
        "hiredAt": "2008-01-23T04:56:22Z",
        "employeeId": "E9",
        "flags": [True, "false"],
        "badge": "b",
        "secret": "s",
        "devices": [{"serial": "s1", "kind": "k", "issued": "x", "primary": True}],
        "members": ["a", "b", "c"],
    },
    {"employeeId": "E1", "badgeNumber": 8},
    [True, False],
    ["a", "b"],
    [{"value": "u1"}, {"value": "u2", "display": "Two"}, {"value": "u3", "type": "User"}],
)
leaves = st.sampled_from(("s", "E2", True, "true", "no", 7, 1.5, "2008-01-23T04:56:22Z", "x\x00", None, "x" * 13))
nested = st.sampled_from(
    (
        [True, "false"],
        ["a"],
        [],
        {},
        {"value": "m1", "displayName": "Boss"},  # manager.displayName is readOnly
        [{"serial": "s", "issued": "i", "kind": "k"}],  # devices.issued is readOnly
        [{"kind": "k", "issued": "i"}],  # devices.serial is required
        [{"serial": 5}],
        [{"value": "u1", "display": "One", "type": "User"}, {"value": "u2"}],
    )
)
# Objects of sub-attribute names: a complex value, an extension's object, an item of an array.
objects = st.dictionaries(st.sampled_from(SUB_NAMES), leaves | nested, max_size=5)
values = st.sampled_from(PLAUSIBLE) | json_values | objects | st.lists(objects, max_size=3)


def some(**typed: st.SearchStrategy[Any]) -> st.SearchStrategy[JsonDoc]:
    """Objects holding some of these keys, each value mostly of its attribute's type."""
    return st.fixed_dictionaries({}, optional={key: strategy | leaves for key, strategy in typed.items()})


texts = st.sampled_from(("s", "E1", "E2", "x" * 13))
booleans = st.booleans() | st.sampled_from(("true", "False"))
devices = st.lists(
    some(serial=texts | st.just(5), kind=texts, issued=texts, primary=booleans, nosuch=texts), max_size=3
)
# Values aimed at the attributes with the most rules: the test extension's and the enterprise one's.
EXT_OBJECTS = some(
    badgeNumber=st.integers(-5, 5),
    score=st.floats(allow_nan=False, allow_infinity=False),
    hiredAt=st.sampled_from(("2008-01-23T04:56:22Z", "2008-01-23", "2008-01-23T04:56:22")),
    employeeId=st.sampled_from(("E1", "E2")),
    flags=st.lists(booleans, max_size=3),
    badge=texts,
    secret=texts,
    devices=devices,
    Devices=devices,
    members=st.lists(texts, max_size=3),
    nosuch=texts,
)
MANAGER = some(value=texts, displayName=texts, **{"$ref": texts}, nosuch=texts)
TARGETED = {
    EXT: EXT_OBJECTS,
    EXT.upper(): EXT_OBJECTS,
    f"{EXT}:devices": devices,
    f"{EXT}:employeeId": texts,
    ENTERPRISE: some(department=texts, manager=MANAGER, Manager=MANAGER, nosuch=texts),
    f"{ENTERPRISE}:manager": MANAGER,
    "name": some(givenName=texts, familyName=texts, formatted=texts, nosuch=texts),
    "emails": st.lists(some(value=texts, type=texts, primary=booleans, display=texts, nosuch=texts), max_size=3),
    "members": st.lists(some(value=texts, display=texts, type=texts, **{"$ref": texts}), max_size=3),
    "active": booleans,
}
BASES = {
    "User": ({}, {"userName": "bjensen"}, {"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "bjensen"}),
    "Group": ({}, {"displayName": "Admins"}, {"schemas": [GROUP_SCHEMA], "displayName": "Admins"}),
}


@st.composite
def bodies(draw: st.DrawFn, rtype: ResourceType) -> Any:
    if draw(st.integers(0, 19)) == 7:
        return draw(json_values)  # not an object, most of the time
    body = dict(draw(st.sampled_from(BASES[rtype.id])))
    for key in draw(st.lists(st.sampled_from(CORE_NAMES + URN_NAMES), max_size=6, unique=True)):
        body[key] = draw(TARGETED[key] if key in TARGETED and draw(st.integers(0, 3)) else values)
    if draw(st.integers(0, 3)) == 0:
        listed = draw(schema_lists.map(lambda urns: [rtype.schema.id, *urns]) | schema_lists | json_values)
        body[draw(st.sampled_from(("schemas", "Schemas", "SCHEMAS")))] = listed
    return body


policies = st.builds(Policy, **{f.name: st.booleans() for f in dataclasses.fields(Policy)})


def _stored(rtype: ResourceType, body: JsonDoc) -> JsonDoc:
    return reference.validate_resource(body, rtype, COMMON, reference.Context.CREATE, Policy())


BJENSEN = _stored(
    TESTED,
    {
        "userName": "bjensen",
        "name": {"givenName": "Barbara"},
        "emails": [{"value": "b@example.com", "primary": True}],
        ENTERPRISE: {"department": "R&D", "manager": {"value": "m1"}},
        EXT: {"employeeId": "E1", "badgeNumber": 7},
        UNDECLARED: {"costCenter": "42"},
    },
)
ADA = _stored(USER, {"userName": "ada", "active": True, f"{ENTERPRISE}:department": "Ops"})
ADMINS = _stored(GROUP, {"displayName": "Admins", "externalId": "g1", "members": [{"value": "u1"}]})
EXISTING = {"User": (None, BJENSEN, ADA), "Group": (None, ADMINS)}


@st.composite
def cases(draw: st.DrawFn) -> tuple[Any, ...]:
    rtype = draw(st.sampled_from(RESOURCE_TYPES))
    context = draw(st.sampled_from(list(Context)))
    existing = draw(st.sampled_from(EXISTING[rtype.id]))
    body = draw(bodies(rtype))
    if existing is not None and isinstance(body, dict) and draw(st.booleans()):
        body = {**copy.deepcopy(existing), **body}  # a PATCH result: mostly the stored document
    limits = (
        draw(st.sampled_from((65_536, 65_536, 4, 12))),
        draw(st.sampled_from((1_000, 1_000, 1, 2))),
        draw(st.sampled_from((1_048_576, 1_048_576, 150, 300))),
    )
    return body, rtype, context, draw(policies), existing, limits


def _outcome(validate: Any, context: Any, case: tuple[Any, ...]) -> tuple[Any, ...]:
    body, rtype, _, policy, existing, (max_string, max_values, max_bytes) = case
    body, existing = copy.deepcopy(body), copy.deepcopy(existing)
    ignored = ["earlier"]
    try:
        doc = validate(body, rtype, COMMON, context, policy, existing, max_string, max_values, max_bytes, ignored)
    except ScimError as error:
        return type(error), error.detail, error.scim_type, error.status, ignored, repr(existing)
    except Exception as error:  # noqa: BLE001 - whatever the interpreter raised, the plan must too
        return type(error), str(error), ignored, repr(existing)
    return repr(doc), ignored, repr(existing)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_compiled_validator_matches_the_interpreter(case: tuple[Any, ...]) -> None:
    context = case[2]
    expected = _outcome(reference.validate_resource, reference.Context(context.value), case)
    assert _outcome(validate_resource, context, case) == expected


@pytest.mark.parametrize(
    "body",
    [
        {"userName": "bjensen", "emails": [{"value": "a@example.com", "primary": "True"}, None, {}]},
        {"userName": "bjensen", EXT: {"devices": [{"kind": "x"}]}},  # a required sub-attribute missing
        {"userName": "bjensen", EXT: {"devices": [{"serial": 5}]}},
        {"userName": "bjensen", EXT: {"hiredAt": "2008-01-23"}},
        {"userName": "bjensen", EXT: {"flags": [True, "x"]}},
        {"userName": "bjensen", f"{EXT}:employeeId": "E2"},  # immutable, changed
        {"userName": "bjensen", f"{EXT}:badge": "b", f"{EXT}:secret": "s"},
        {"userName": "bjensen", "name": {"givenName": "x" * 70_000}},
        {"userName": "bjensen", UNDECLARED: {"deep": [[[["x" * 70_000]]]]}},
        {"userName": "bjensen", UNDECLARED: {"big": 2**80}},
    ],
)
@pytest.mark.parametrize("context", list(Context))
def test_edge_cases_match_the_interpreter(body: JsonDoc, context: Context) -> None:
    for policy in (Policy(), Policy.strict()):
        case = (body, TESTED, context, policy, BJENSEN, (65_536, 1_000, 1_048_576))
        expected = _outcome(reference.validate_resource, reference.Context(context.value), case)
        assert _outcome(validate_resource, context, case) == expected


def test_a_plan_is_compiled_once_per_resource_type() -> None:
    assert plan_for(USER, COMMON) is plan_for(REGISTRY.resource_type("User"), COMMON)
    assert plan_for(TESTED, COMMON) is not plan_for(USER, COMMON)


def test_key_spellings_remembered_are_bounded() -> None:
    """Keys are client data: a client inventing names does not grow a plan without end."""
    rtype = dataclasses.replace(USER)
    body = {f"x{i}": 1 for i in range(MEMO_LIMIT + 50)} | {"userName": "bjensen"}
    ignored: list[str] = []
    validate_resource(body, rtype, COMMON, Context.CREATE, Policy(), ignored=ignored)
    assert len(ignored) == MEMO_LIMIT + 50
    assert len(plan_for(rtype, COMMON).keys) == MEMO_LIMIT


ACME = "urn:acme:params:scim:schemas:extension:badge:2.0:User"


def _declared(attr_type: str) -> DeclaredSchema:
    document = {"id": ACME, "name": "Badge", "attributes": [{"name": "badgeNumber", "type": attr_type}]}
    return DeclaredSchema(ACME, "User", document)


def test_a_tenants_new_extension_is_honoured() -> None:
    """Plans follow the registry a tenant works with: declaring (or redeclaring) an extension
    builds a new registry, whose resource type gets its own plan."""
    body = {"userName": "bjensen", ACME: {"badgeNumber": "seven"}}
    before = validate_resource(body, USER, COMMON, Context.CREATE, Policy())
    assert before[ACME] == {"badgeNumber": "seven"}  # undeclared: kept as sent
    declared = tenant_registry([_declared("integer")]).resource_type("User")
    with pytest.raises(InvalidValue, match=f"'{ACME}:badgeNumber' must be an integer."):
        validate_resource(body, declared, COMMON, Context.CREATE, Policy())
    redeclared = tenant_registry([_declared("string")]).resource_type("User")
    assert validate_resource(body, redeclared, COMMON, Context.CREATE, Policy())[ACME] == {"badgeNumber": "seven"}
    assert validate_resource(body, USER, COMMON, Context.CREATE, Policy()) == before
