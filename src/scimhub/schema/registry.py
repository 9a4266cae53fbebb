"""Schema registry: RFC 7643 schema documents (data) → bound Schema/ResourceType values.

The built-in schemas live as JSON in ``schema/builtin``; resource types are declared
here as data too. Name resolution (case-insensitive, URN-qualified) happens once, in
``ResourceType`` lookups used by ``schema.paths``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from scimhub.schema.model import Attribute
from scimhub.schema.model import AttrType
from scimhub.schema.model import Mutability
from scimhub.schema.model import ResourceType
from scimhub.schema.model import Returned
from scimhub.schema.model import Schema
from scimhub.schema.model import Uniqueness

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
COMMON_SCHEMA = "urn:scimhub:common"

BUILTIN_FILES = (
    "common.json",
    "user.json",
    "group.json",
    "enterprise_user.json",
    "service_provider_config.json",
    "resource_type.json",
    "schema.json",
)

# RFC 7643 §4 resource types served by every tenant: (id, endpoint, core schema, extensions).
RESOURCE_TYPES: tuple[tuple[str, str, str, str, tuple[tuple[str, bool], ...]], ...] = (
    ("User", "/Users", "User Account", USER_SCHEMA, ((ENTERPRISE_USER_SCHEMA, False),)),
    ("Group", "/Groups", "Group", GROUP_SCHEMA, ()),
)


def attribute_from_json(data: dict[str, Any], schema: str, parent: str | None = None) -> Attribute:
    """Build an Attribute from its RFC 7643 §7 JSON representation."""
    subs = tuple(attribute_from_json(s, schema, data["name"]) for s in data.get("subAttributes", ()))
    return Attribute(
        name=data["name"],
        type=AttrType(data["type"]),
        schema=schema,
        multi_valued=bool(data.get("multiValued", False)),
        description=data.get("description", ""),
        required=bool(data.get("required", False)),
        case_exact=bool(data.get("caseExact", False)),
        mutability=Mutability(data.get("mutability", "readWrite")),
        returned=Returned(data.get("returned", "default")),
        uniqueness=Uniqueness(data.get("uniqueness", "none")),
        canonical_values=tuple(data.get("canonicalValues", ())),
        reference_types=tuple(data.get("referenceTypes", ())),
        sub_attributes=subs,
        parent=parent,
    )


def schema_from_json(data: dict[str, Any]) -> Schema:
    """Build a Schema from an RFC 7643 §7 schema resource."""
    attrs = tuple(attribute_from_json(a, data["id"]) for a in data["attributes"])
    return Schema(id=data["id"], name=data.get("name", ""), description=data.get("description", ""), attributes=attrs)


class SchemaRegistry:
    """All schemas and resource types known to the server.

    ``documents`` keeps the original JSON for ``GET /Schemas`` so the wire
    representation is exactly the data the server runs on.
    """

    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.documents = {d["id"]: d for d in documents}
        self.schemas = {d["id"].casefold(): schema_from_json(d) for d in documents}
        self.common = self.schemas[COMMON_SCHEMA]
        self.resource_types = {rt.id: rt for rt in self._build_resource_types()}
        self._by_endpoint = {rt.endpoint.casefold(): rt for rt in self.resource_types.values()}

    def _build_resource_types(self) -> list[ResourceType]:
        built = []
        for rt_id, endpoint, description, core, extensions in RESOURCE_TYPES:
            exts = tuple((self.schemas[urn.casefold()], required) for urn, required in extensions)
            built.append(
                ResourceType(
                    id=rt_id,
                    name=rt_id,
                    endpoint=endpoint,
                    description=description,
                    schema=self.schemas[core.casefold()],
                    extensions=exts,
                )
            )
        return built

    def schema(self, urn: str) -> Schema | None:
        return self.schemas.get(urn.casefold())

    def resource_type(self, rt_id: str) -> ResourceType:
        return self.resource_types[rt_id]

    def served_schema_documents(self) -> list[dict[str, Any]]:
        """Schema resources for ``GET /Schemas`` (the common pseudo-schema is internal)."""
        return [d for urn, d in self.documents.items() if urn != COMMON_SCHEMA]


def load_builtin_documents() -> list[dict[str, Any]]:
    folder = resources.files("scimhub.schema") / "builtin"
    return [json.loads((folder / name).read_text(encoding="utf-8")) for name in BUILTIN_FILES]


@cache
def default_registry() -> SchemaRegistry:
    """The registry of RFC 7643 built-in schemas (immutable; shared)."""
    return SchemaRegistry(load_builtin_documents())
