"""The built-in registry: RFC 7643 §8.7 schemas loaded as data, names resolved case-insensitively.

Every incoming name goes through ``scimhub.schema.paths``; these tables pin what a name
resolves to (canonical spelling, extension container) and which names resolve to nothing.
"""

from __future__ import annotations

import pytest

from scimhub.schema.model import AttrType
from scimhub.schema.model import Mutability
from scimhub.schema.model import ResourceType
from scimhub.schema.model import Returned
from scimhub.schema.model import Uniqueness
from scimhub.schema.paths import resolve_name
from scimhub.schema.paths import split_attr_name
from scimhub.schema.registry import COMMON_SCHEMA
from scimhub.schema.registry import ENTERPRISE_USER_SCHEMA
from scimhub.schema.registry import GROUP_SCHEMA
from scimhub.schema.registry import USER_SCHEMA
from scimhub.schema.registry import default_registry
from scimhub.schema.registry import load_builtin_documents

REGISTRY = default_registry()
USER = REGISTRY.resource_type("User")
GROUP = REGISTRY.resource_type("Group")
COMMON = REGISTRY.common
ENTERPRISE = ENTERPRISE_USER_SCHEMA
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
BUILTIN_URNS = {
    COMMON_SCHEMA,
    USER_SCHEMA,
    GROUP_SCHEMA,
    ENTERPRISE,
    SPC_SCHEMA,
    RESOURCE_TYPE_SCHEMA,
    SCHEMA_SCHEMA,
}


def test_every_builtin_schema_document_loads() -> None:
    assert {document["id"] for document in load_builtin_documents()} == BUILTIN_URNS
    assert set(REGISTRY.documents) == BUILTIN_URNS
    assert {schema.id for schema in REGISTRY.schemas.values()} == BUILTIN_URNS


def test_every_builtin_schema_has_attributes() -> None:
    assert all(schema.attributes for schema in REGISTRY.schemas.values())


def test_served_schemas_leave_out_the_internal_common_schema() -> None:
    served = {document["id"] for document in REGISTRY.served_schema_documents()}
    assert served == BUILTIN_URNS - {COMMON_SCHEMA}


def test_the_default_registry_is_built_once_and_shared() -> None:
    assert default_registry() is REGISTRY


@pytest.mark.parametrize(
    ("rtype_id", "endpoint", "core", "extensions"),
    [
        ("User", "/Users", USER_SCHEMA, ((ENTERPRISE, False),)),
        ("Group", "/Groups", GROUP_SCHEMA, ()),
    ],
)
def test_resource_types_bind_their_core_schema_and_extensions(
    rtype_id: str, endpoint: str, core: str, extensions: tuple[tuple[str, bool], ...]
) -> None:
    rtype = REGISTRY.resource_type(rtype_id)
    assert rtype.endpoint == endpoint
    assert rtype.schema.id == core
    assert tuple((schema.id, required) for schema, required in rtype.extensions) == extensions
    assert rtype.schema_ids == (core, *(urn for urn, _ in extensions))


@pytest.mark.parametrize("spelling", [USER_SCHEMA, USER_SCHEMA.upper(), USER_SCHEMA.lower()])
def test_schemas_are_found_by_urn_in_any_case(spelling: str) -> None:
    assert REGISTRY.schema(spelling) is USER.schema


@pytest.mark.parametrize("spelling", [ENTERPRISE, ENTERPRISE.upper(), ENTERPRISE.lower()])
def test_extensions_are_found_by_urn_in_any_case(spelling: str) -> None:
    extension = USER.extension(spelling)
    assert extension is not None
    assert extension.id == ENTERPRISE


def test_an_unknown_urn_names_no_schema() -> None:
    assert REGISTRY.schema("urn:example:unknown") is None
    assert USER.extension("urn:example:unknown") is None
    assert GROUP.extension(ENTERPRISE) is None


STRING, BOOLEAN, COMPLEX, REFERENCE = AttrType.STRING, AttrType.BOOLEAN, AttrType.COMPLEX, AttrType.REFERENCE
RO, RW, WO = Mutability.READ_ONLY, Mutability.READ_WRITE, Mutability.WRITE_ONLY
ALWAYS, NEVER, DEFAULT = Returned.ALWAYS, Returned.NEVER, Returned.DEFAULT
SERVER, NONE = Uniqueness.SERVER, Uniqueness.NONE
# (schema URN, attribute, type, multiValued, mutability, returned, uniqueness, required, caseExact)
CHARACTERISTICS = [
    (COMMON_SCHEMA, "id", STRING, False, RO, ALWAYS, SERVER, False, True),
    (COMMON_SCHEMA, "externalId", STRING, False, RW, DEFAULT, NONE, False, True),
    (COMMON_SCHEMA, "meta", COMPLEX, False, RO, DEFAULT, NONE, False, False),
    (USER_SCHEMA, "userName", STRING, False, RW, DEFAULT, SERVER, True, False),
    (USER_SCHEMA, "password", STRING, False, WO, NEVER, NONE, False, False),
    (USER_SCHEMA, "active", BOOLEAN, False, RW, DEFAULT, NONE, False, False),
    (USER_SCHEMA, "emails", COMPLEX, True, RW, DEFAULT, NONE, False, False),
    (USER_SCHEMA, "groups", COMPLEX, True, RO, DEFAULT, NONE, False, False),
    (USER_SCHEMA, "profileUrl", REFERENCE, False, RW, DEFAULT, NONE, False, False),
    (GROUP_SCHEMA, "displayName", STRING, False, RW, DEFAULT, NONE, True, False),
    (GROUP_SCHEMA, "members", COMPLEX, True, RW, DEFAULT, NONE, False, False),
    (ENTERPRISE, "manager", COMPLEX, False, RW, DEFAULT, NONE, False, False),
]


@pytest.mark.parametrize(
    ("urn", "name", "kind", "multi", "mutability", "returned", "uniqueness", "required", "case_exact"),
    CHARACTERISTICS,
    ids=[f"{row[1]}" for row in CHARACTERISTICS],
)
def test_attribute_characteristics_are_read_from_the_schema_documents(
    urn: str,
    name: str,
    kind: AttrType,
    multi: bool,
    mutability: Mutability,
    returned: Returned,
    uniqueness: Uniqueness,
    required: bool,
    case_exact: bool,
) -> None:
    schema = REGISTRY.schema(urn)
    assert schema is not None
    attr = schema.attribute(name)
    assert attr is not None
    assert (attr.name, attr.schema, attr.type, attr.multi_valued) == (name, urn, kind, multi)
    assert (attr.mutability, attr.returned, attr.uniqueness) == (mutability, returned, uniqueness)
    assert (attr.required, attr.case_exact) == (required, case_exact)


@pytest.mark.parametrize("spelling", ["userName", "username", "USERNAME", "uSeRnAmE"])
def test_attribute_lookup_ignores_case(spelling: str) -> None:
    attr = USER.schema.attribute(spelling)
    assert attr is not None
    assert attr.name == "userName"


@pytest.mark.parametrize("spelling", ["givenName", "givenname", "GIVENNAME"])
def test_sub_attribute_lookup_ignores_case(spelling: str) -> None:
    name = USER.schema.attribute("name")
    assert name is not None
    sub = name.sub_attribute(spelling)
    assert sub is not None
    assert sub.name == "givenName"


def test_sub_attributes_know_their_parent_and_schema() -> None:
    enterprise = USER.extension(ENTERPRISE)
    assert enterprise is not None
    manager = enterprise.attribute("manager")
    assert manager is not None
    value = manager.sub_attribute("value")
    assert value is not None
    assert (value.parent, value.schema, value.dotted_name) == ("manager", ENTERPRISE, "manager.value")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("userName", (None, "userName", None)),
        ("name.givenName", (None, "name", "givenName")),
        (f"{USER_SCHEMA}:userName", (USER_SCHEMA, "userName", None)),
        (f"{USER_SCHEMA}:name.givenName", (USER_SCHEMA, "name", "givenName")),
        (f"{ENTERPRISE}:manager.value", (ENTERPRISE, "manager", "value")),
        ("URN:EXAMPLE:2.0:Thing:attr", ("URN:EXAMPLE:2.0:Thing", "attr", None)),
    ],
)
def test_dots_inside_a_urn_belong_to_the_urn(text: str, expected: tuple[str | None, str, str | None]) -> None:
    assert split_attr_name(text) == expected


# (rtype, name as sent, canonical key, extension container or None, leaf attribute name)
RESOLVED = [
    (USER, "userName", "userName", None, "userName"),
    (USER, "USERNAME", "userName", None, "userName"),
    (USER, f"{USER_SCHEMA}:userName", "userName", None, "userName"),
    (USER, f"{USER_SCHEMA.upper()}:USERNAME", "userName", None, "userName"),
    (USER, f"{ENTERPRISE}:department", f"{ENTERPRISE}:department", ENTERPRISE, "department"),
    (USER, f"{ENTERPRISE.lower()}:DEPARTMENT", f"{ENTERPRISE}:department", ENTERPRISE, "department"),
    (USER, f"{ENTERPRISE}:manager.value", f"{ENTERPRISE}:manager.value", ENTERPRISE, "value"),
    (USER, "name.givenName", "name.givenName", None, "givenName"),
    (USER, "NAME.GIVENNAME", "name.givenName", None, "givenName"),
    (USER, f"{USER_SCHEMA}:name.givenName", "name.givenName", None, "givenName"),
    (USER, "emails.value", "emails.value", None, "value"),
    (USER, "Emails.Primary", "emails.primary", None, "primary"),
    (USER, "id", "id", None, "id"),
    (USER, "externalId", "externalId", None, "externalId"),
    (USER, "meta.lastModified", "meta.lastModified", None, "lastModified"),
    (USER, f"{USER_SCHEMA}:meta.created", "meta.created", None, "created"),
    (GROUP, "displayName", "displayName", None, "displayName"),
    (GROUP, "members.value", "members.value", None, "value"),
    (GROUP, "MEMBERS.$REF", "members.$ref", None, "$ref"),
]


@pytest.mark.parametrize(("rtype", "text", "key", "extension", "leaf"), RESOLVED, ids=[row[1] for row in RESOLVED])
def test_names_resolve_to_their_canonical_attribute(
    rtype: ResourceType, text: str, key: str, extension: str | None, leaf: str
) -> None:
    bound = resolve_name(rtype, COMMON, text)
    assert bound is not None
    assert bound.key == key
    assert bound.extension == extension
    assert bound.leaf.name == leaf


UNKNOWN = [
    (USER, "nope"),
    (USER, "name.nope"),
    (USER, "userName.value"),  # a simple attribute has no sub-attributes
    (USER, "members"),  # a Group attribute
    (USER, f"{USER_SCHEMA}:nope"),
    (USER, f"{USER_SCHEMA}:department"),  # lives in the enterprise extension
    (USER, f"{ENTERPRISE}:userName"),  # lives in the core schema
    (USER, f"{ENTERPRISE}:nope"),
    (USER, f"{ENTERPRISE}:manager.nope"),
    (USER, ENTERPRISE),  # the whole extension container is not an attribute
    (USER, "urn:example:params:scim:schemas:extension:acme:2.0:User:department"),
    (GROUP, "userName"),
    (GROUP, f"{ENTERPRISE}:department"),  # not an extension of Group
]


@pytest.mark.parametrize(("rtype", "text"), UNKNOWN, ids=[row[1] for row in UNKNOWN])
def test_unknown_names_resolve_to_none(rtype: ResourceType, text: str) -> None:
    assert resolve_name(rtype, COMMON, text) is None
