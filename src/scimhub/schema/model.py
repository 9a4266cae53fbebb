"""Schema data model: RFC 7643 §7 attribute characteristics as frozen values.

Everything that depends on an attribute (type, mutability, returned, caseExact,
uniqueness, required, multiValued) is read from these objects; no code names an
attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from typing import Any

JsonDoc = dict[str, Any]


class AttrType(StrEnum):
    """RFC 7643 §2.3 data types."""

    STRING = "string"
    BOOLEAN = "boolean"
    DECIMAL = "decimal"
    INTEGER = "integer"
    DATETIME = "dateTime"
    BINARY = "binary"
    REFERENCE = "reference"
    COMPLEX = "complex"


class Mutability(StrEnum):
    """RFC 7643 §7 mutability."""

    READ_ONLY = "readOnly"
    READ_WRITE = "readWrite"
    IMMUTABLE = "immutable"
    WRITE_ONLY = "writeOnly"


class Returned(StrEnum):
    """RFC 7643 §7 returned."""

    ALWAYS = "always"
    NEVER = "never"
    DEFAULT = "default"
    REQUEST = "request"


class Uniqueness(StrEnum):
    """RFC 7643 §7 uniqueness."""

    NONE = "none"
    SERVER = "server"
    GLOBAL = "global"


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute definition (RFC 7643 §7), with its sub-attributes.

    ``schema`` is the URN of the schema that defines the top-level attribute; it
    is set on sub-attributes too so that a bound path knows where it lives.
    """

    name: str
    type: AttrType
    schema: str
    multi_valued: bool = False
    description: str = ""
    required: bool = False
    case_exact: bool = False
    mutability: Mutability = Mutability.READ_WRITE
    returned: Returned = Returned.DEFAULT
    uniqueness: Uniqueness = Uniqueness.NONE
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()
    parent: str | None = None
    # A tenant's extension attribute whose values the store indexes (`scimhub schema index`):
    # filters may probe the index for equality. Not an RFC 7643 characteristic.
    indexed: bool = False
    _sub_index: dict[str, Attribute] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for sub in self.sub_attributes:
            self._sub_index[sub.name.casefold()] = sub

    @property
    def is_complex(self) -> bool:
        return self.type is AttrType.COMPLEX

    def sub_attribute(self, name: str) -> Attribute | None:
        """Look up a sub-attribute case-insensitively (RFC 7643 §2.1)."""
        return self._sub_index.get(name.casefold())

    @property
    def dotted_name(self) -> str:
        return f"{self.parent}.{self.name}" if self.parent else self.name


@dataclass(frozen=True, slots=True)
class Schema:
    """A schema resource (RFC 7643 §7): an id (URN) and its attributes."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    _index: dict[str, Attribute] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for attr in self.attributes:
            self._index[attr.name.casefold()] = attr

    def attribute(self, name: str) -> Attribute | None:
        return self._index.get(name.casefold())


@dataclass(frozen=True, slots=True)
class SchemaExtension:
    """RFC 7643 §6 schemaExtensions entry of a resource type."""

    schema: str
    required: bool


@dataclass(frozen=True, slots=True)
class ResourceType:
    """RFC 7643 §6 resource type bound to its schemas."""

    id: str
    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[tuple[Schema, bool], ...] = ()
    # (extension URN, attribute name) whose values writers keep in the store's value index: the
    # indexes being built and the ready ones (whose attributes are ``indexed``).
    value_indexes: tuple[tuple[str, str], ...] = ()
    # Whether a default response must drop something: an attribute returned only on request.
    has_request_only: bool = field(default=False, init=False, compare=False, repr=False)
    # The core schema's and the extensions' URNs, casefolded (URNs are case-insensitive).
    known_urns: tuple[str, ...] = field(default=(), init=False, compare=False, repr=False)
    extension_ids: frozenset[str] = field(default=frozenset(), init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "known_urns", tuple(urn.casefold() for urn in self.schema_ids))
        object.__setattr__(self, "extension_ids", frozenset(ext.id for ext, _ in self.extensions))
        attrs = [a for s in (self.schema, *(ext for ext, _ in self.extensions)) for a in s.attributes]
        hidden = any(a.returned is Returned.REQUEST for a in [*attrs, *(s for a in attrs for s in a.sub_attributes)])
        object.__setattr__(self, "has_request_only", hidden)

    @property
    def schema_ids(self) -> tuple[str, ...]:
        return (self.schema.id, *(ext.id for ext, _ in self.extensions))

    def extension(self, urn: str) -> Schema | None:
        key = urn.casefold()
        for ext, _ in self.extensions:
            if ext.id.casefold() == key:
                return ext
        return None
