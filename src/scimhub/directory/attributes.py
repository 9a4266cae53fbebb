"""A tenant's attribute mapping: the app's attribute names → SCIM paths of a User (pure; no I/O).

Every tenant starts from DEFAULT_MAPPING and the attributes of its declared User extensions
(each under its own name); ``scimhub attribute map`` / the admin API add or change a name, and
``unmap`` removes one (a default's removal is stored too, so it stays removed). Paths resolve
through ``schema.paths`` against the tenant's registry: case-insensitive, URN-qualified
extension attributes included, checked when a mapping is added.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from scimhub.schema.model import JsonDoc
from scimhub.schema.model import Returned
from scimhub.schema.paths import BoundPath
from scimhub.schema.paths import resolve_name
from scimhub.schema.registry import ENTERPRISE_USER_SCHEMA
from scimhub.schema.registry import SchemaRegistry
from scimhub.schema.relations import relation_attribute

USER = "User"
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# The fields every directory user has, in this order, whatever the mapping: not mappable names.
# userName and state are read through these paths (state: "inactive" when active is false).
CORE_PATHS = {"userName": "userName", "state": "active"}
RESERVED = ("id", "userName", "state", "groups", "roles", "createdAt", "updatedAt", "raw")

# What the app almost always wants. email: the primary email, else the first work email, else the
# first (the rule for any multi-valued complex attribute's sub-attribute: ``preferred``).
DEFAULT_MAPPING: tuple[tuple[str, str], ...] = (
    ("email", "emails.value"),
    ("firstName", "name.givenName"),
    ("lastName", "name.familyName"),
    ("displayName", "displayName"),
    ("externalId", "externalId"),
    ("jobTitle", "title"),
    ("department", f"{ENTERPRISE_USER_SCHEMA}:department"),
    ("employeeNumber", f"{ENTERPRISE_USER_SCHEMA}:employeeNumber"),
    ("managerId", f"{ENTERPRISE_USER_SCHEMA}:manager.value"),
)

# RFC 7643 §2.4: the sub-attributes that rank the values of a multi-valued attribute.
PRIMARY_SUB = "primary"
TYPE_SUB = "type"
PREFERRED_TYPE = "work"


class Source(StrEnum):
    CORE = "core"  # userName, state: always there, not mappable
    DEFAULT = "default"  # DEFAULT_MAPPING
    EXTENSION = "extension"  # an attribute of a declared User extension, under its own name
    TENANT = "tenant"  # set with `scimhub attribute map` or the admin API


class MappingError(ValueError):
    """A mapping an operator asked for that cannot be made; the message says why."""


@dataclass(frozen=True, slots=True)
class Mapped:
    """One name of the directory user and the SCIM path it reads (``bound`` None: the path no
    longer resolves, e.g. its extension's declaration was removed; the value is then null)."""

    name: str
    path: str
    source: Source
    bound: BoundPath | None

    def to_json(self) -> JsonDoc:
        return {"name": self.name, "path": self.path, "source": self.source.value, "resolved": self.bound is not None}


@dataclass(frozen=True, slots=True)
class AttributeMap:
    """A tenant's effective mapping: the core fields, then the mapped names in output order."""

    core: tuple[Mapped, ...]
    entries: tuple[Mapped, ...]

    def listing(self) -> list[Mapped]:
        return [*self.core, *self.entries]


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise MappingError(
            f"{name!r} is not an attribute name: use letters, digits and _ (not first), at most 64 characters."
        )
    if name.casefold() in _RESERVED_KEYS:
        fields = ", ".join(RESERVED)
        raise MappingError(f"{name!r} is a field every directory user has ({fields}); choose another name.")
    return name


def bind(registry: SchemaRegistry, path: str) -> BoundPath | None:
    """``path`` resolved against the tenant's User resource type (case-insensitive), or None."""
    rtype = registry.resource_type(USER)
    return resolve_name(rtype, registry.common, path.strip())


def check_path(registry: SchemaRegistry, path: str) -> BoundPath:
    """The bound path of a mapping being added; MappingError naming what is wrong."""
    bound = bind(registry, path)
    if bound is None:
        urns = ", ".join(registry.resource_type(USER).schema_ids)
        raise MappingError(
            f"Unknown User attribute path {path!r}: use attr, attr.sub or urn:…:attr[.sub] of one of {urns} "
            f"(declare a custom extension with `scimhub schema add` first)."
        )
    if bound.leaf.returned is Returned.NEVER:
        raise MappingError(f"{bound.key} is never returned (RFC 7643 returned=never): it cannot be mapped.")
    if bound.extension is None and bound.attribute.name == relation_attribute(registry.resource_type(USER)):
        raise MappingError(f"{bound.key} is the user's group memberships: every directory user has them as groups.")
    return bound


def effective_mapping(registry: SchemaRegistry, rows: Mapping[str, str | None]) -> AttributeMap:
    """Defaults, declared extension attributes, then the tenant's own names; ``rows`` are the
    tenant's stored mappings (a path, or None: a default the tenant removed)."""
    core = tuple(Mapped(n, p, Source.CORE, bind(registry, p)) for n, p in CORE_PATHS.items())
    entries: dict[str, Mapped] = {}
    for name, path in DEFAULT_MAPPING:
        entries[name.casefold()] = Mapped(name, path, Source.DEFAULT, bind(registry, path))
    for declared in registry.declared:
        if declared.resource_type != USER:
            continue
        for attr in registry.schemas[declared.urn.casefold()].attributes:
            key, path = attr.name.casefold(), f"{declared.urn}:{attr.name}"
            if key not in entries and key not in _RESERVED_KEYS and attr.returned is not Returned.NEVER:
                entries[key] = Mapped(attr.name, path, Source.EXTENSION, bind(registry, path))
    for name in sorted(rows, key=str.casefold):
        entries.pop(name.casefold(), None)
        mapped = rows[name]
        if mapped is not None:
            entries[name.casefold()] = Mapped(name, mapped, Source.TENANT, bind(registry, mapped))
    return AttributeMap(core, tuple(entries.values()))


_RESERVED_KEYS = frozenset(r.casefold() for r in RESERVED)


def value_of(resource: JsonDoc, bound: BoundPath | None) -> Any:
    """The value ``bound`` names in a rendered resource (None when absent). A sub-attribute of a
    multi-valued attribute is read from its ``preferred`` value."""
    if bound is None:
        return None
    container = resource if bound.extension is None else _get(resource, bound.extension)
    value = _get(container, bound.attribute.name)
    if bound.sub is None or value is None:
        return value
    if bound.attribute.multi_valued:
        value = preferred(value)
    return _get(value, bound.sub.name)


def preferred(values: Any) -> Any:
    """The value marked primary, else the first of type work, else the first (RFC 7643 §2.4)."""
    if not isinstance(values, list) or not values:
        return None
    elements = [v for v in values if isinstance(v, dict)]
    for element in elements:
        if _get(element, PRIMARY_SUB) is True:
            return element
    for element in elements:
        kind = _get(element, TYPE_SUB)
        if isinstance(kind, str) and kind.casefold() == PREFERRED_TYPE:
            return element
    return values[0]


def _get(container: Any, name: str) -> Any:
    """``container[name]``, matching the key case-insensitively (stored keys are canonical, so the
    exact spelling almost always hits)."""
    if not isinstance(container, dict):
        return None
    if name in container:
        return container[name]
    key = name.casefold()
    return next((v for k, v in container.items() if k.casefold() == key), None)
