"""Schema registry: RFC 7643 schema documents (data) → bound Schema/ResourceType values.

The built-in schemas live as JSON in ``schema/builtin``; resource types are declared
here as data too. Name resolution (case-insensitive, URN-qualified) happens once, in
``ResourceType`` lookups used by ``schema.paths``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

import orjson

from scimhub.schema.declare import DeclaredSchema
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
    representation is exactly the data the server runs on. ``declared`` are one tenant's
    extension schemas (``schema.declare``): they extend their resource type like the built-in ones.
    """

    def __init__(
        self,
        documents: list[dict[str, Any]],
        declared: Sequence[DeclaredSchema] = (),
        built: dict[str, Schema] | None = None,
    ) -> None:
        self.builtin_documents = documents
        self.declared = tuple(declared)
        self.documents = {d["id"]: d for d in documents} | {x.urn: x.document for x in declared}
        built = {**(built or {}), **{x.urn.casefold(): _with_ready_indexes(x) for x in declared}}
        self.schemas = {
            urn.casefold(): built.get(urn.casefold()) or schema_from_json(d) for urn, d in self.documents.items()
        }
        self.common = self.schemas[COMMON_SCHEMA]
        self.resource_types = {rt.id: rt for rt in self._build_resource_types()}

    def with_declared(self, declared: Sequence[DeclaredSchema]) -> SchemaRegistry:
        """This registry's built-in schemas (the same objects) plus ``declared``: one tenant's view."""
        if not declared:
            return self
        return SchemaRegistry(
            self.builtin_documents,
            declared,
            {d["id"].casefold(): self.schemas[d["id"].casefold()] for d in self.builtin_documents},
        )

    def builtin_urns(self) -> list[str]:
        return [d["id"] for d in self.builtin_documents]

    def _build_resource_types(self) -> list[ResourceType]:
        built = []
        for rt_id, endpoint, description, core, extensions in RESOURCE_TYPES:
            mine = [x for x in self.declared if x.resource_type == rt_id]
            declared = tuple((x.urn, x.required) for x in mine)
            exts = tuple((self.schemas[urn.casefold()], required) for urn, required in (*extensions, *declared))
            built.append(
                ResourceType(
                    id=rt_id,
                    name=rt_id,
                    endpoint=endpoint,
                    description=description,
                    schema=self.schemas[core.casefold()],
                    extensions=exts,
                    value_indexes=tuple((x.urn, name) for x in mine for name in x.indexed),
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


def _with_ready_indexes(declared: DeclaredSchema) -> Schema:
    """The declared schema, its attributes with a complete value index marked ``indexed``."""
    schema = schema_from_json(declared.document)
    ready = {n.casefold() for n in declared.ready}
    if not ready:
        return schema
    attrs = tuple(
        replace(a, indexed=True, _sub_index={}) if a.name.casefold() in ready else a for a in schema.attributes
    )
    return replace(schema, attributes=attrs, _index={})


def load_builtin_documents() -> list[dict[str, Any]]:
    folder = resources.files("scimhub.schema") / "builtin"
    return [json.loads((folder / name).read_text(encoding="utf-8")) for name in BUILTIN_FILES]


@cache
def default_registry() -> SchemaRegistry:
    """The registry of RFC 7643 built-in schemas (immutable; shared)."""
    return SchemaRegistry(load_builtin_documents())


_TENANT_REGISTRIES: dict[tuple[Any, ...], SchemaRegistry] = {}
_MAX_TENANT_REGISTRIES = 1024


def tenant_registry(declared: Sequence[DeclaredSchema]) -> SchemaRegistry:
    """The registry a tenant with these declarations works with: the shared default one when it
    declared nothing; otherwise built once per distinct set of declarations (the config cache asks
    every few seconds), so its resource types keep their identity between refreshes."""
    if not declared:
        return default_registry()
    key = tuple((d.urn, d.resource_type, orjson.dumps(d.document), d.required, d.indexed, d.ready) for d in declared)
    found = _TENANT_REGISTRIES.get(key)
    if found is None:
        if len(_TENANT_REGISTRIES) >= _MAX_TENANT_REGISTRIES:
            _TENANT_REGISTRIES.pop(next(iter(_TENANT_REGISTRIES)))
        found = _TENANT_REGISTRIES[key] = default_registry().with_declared(declared)
    return found
