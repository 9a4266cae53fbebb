"""Attribute paths bound to the schema (RFC 7644 §3.10 attribute notation).

Every incoming name (JSON key, filter path, PATCH path, ``attributes=``, ``sortBy``)
is resolved here, once, case-insensitively, to the ``Attribute`` it denotes.
"""

from __future__ import annotations

from dataclasses import dataclass

from scimhub.schema.model import Attribute
from scimhub.schema.model import ResourceType
from scimhub.schema.model import Schema


@dataclass(frozen=True, slots=True)
class BoundPath:
    """A resolved path: a top-level attribute, optionally one of its sub-attributes.

    ``extension`` is the URN of the extension schema whose container holds the
    attribute in the document, or None for core and common attributes.
    """

    attribute: Attribute
    sub: Attribute | None = None
    extension: str | None = None

    @property
    def leaf(self) -> Attribute:
        return self.sub or self.attribute

    @property
    def key(self) -> str:
        """Canonical spelling, e.g. ``emails.value`` or ``urn:…:User:manager.value``."""
        base = f"{self.extension}:{self.attribute.name}" if self.extension else self.attribute.name
        return f"{base}.{self.sub.name}" if self.sub else base


def split_attr_name(text: str) -> tuple[str | None, str, str | None]:
    """Split ``[urn:…:]attr[.sub]`` into (uri, attr, sub).

    In a URN-qualified name the attribute starts after the last ``:`` (RFC 7644 §3.10);
    dots before it belong to the URN (``…:2.0:User``).
    """
    uri: str | None = None
    rest = text
    if text[:4].casefold() == "urn:":
        uri, _, rest = text.rpartition(":")
    attr, dot, sub = rest.partition(".")
    return uri, attr, (sub if dot else None)


def find_schema(rtype: ResourceType, urn: str) -> Schema | None:
    """The core schema or an extension of ``rtype`` named by ``urn`` (case-insensitive)."""
    if urn.casefold() == rtype.schema.id.casefold():
        return rtype.schema
    return rtype.extension(urn)


def resolve(
    rtype: ResourceType, common: Schema, uri: str | None, attr: str, sub: str | None = None
) -> BoundPath | None:
    """Resolve a path against ``rtype``; None when any part is unknown."""
    top, extension = _resolve_top(rtype, common, uri, attr)
    if top is None:
        return None
    if sub is None:
        return BoundPath(top, None, extension)
    sub_attr = top.sub_attribute(sub)
    if sub_attr is None:
        return None
    return BoundPath(top, sub_attr, extension)


def resolve_name(rtype: ResourceType, common: Schema, text: str) -> BoundPath | None:
    """Resolve a full attribute name such as ``name.givenName`` or a URN-qualified one."""
    uri, attr, sub = split_attr_name(text)
    if uri is not None and rtype.extension(f"{uri}:{attr}") is not None and sub is None:
        return None  # the whole extension container is not an attribute
    return resolve(rtype, common, uri, attr, sub)


def _resolve_top(
    rtype: ResourceType, common: Schema, uri: str | None, attr: str
) -> tuple[Attribute | None, str | None]:
    if uri is None:
        return common.attribute(attr) or rtype.schema.attribute(attr), None
    schema = find_schema(rtype, uri)
    if schema is None:
        return None, None
    if schema is rtype.schema:
        return common.attribute(attr) or schema.attribute(attr), None
    return schema.attribute(attr), schema.id
