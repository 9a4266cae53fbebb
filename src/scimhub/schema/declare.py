"""Operator-declared extension schemas: an RFC 7643 §7 schema document, checked and made canonical.

A tenant's extensions are data, like the built-in schemas: ``declare_schema`` turns the JSON an
operator supplies (the shape ``/Schemas`` serves) into the canonical document the server keeps and
serves, or raises ``SchemaDocumentError`` naming the first problem. ``check_redeclaration`` refuses
a new version of a declaration that would reinterpret or orphan stored values. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scimhub.schema.model import AttrType
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import Mutability
from scimhub.schema.model import Returned
from scimhub.schema.model import Uniqueness

SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPES = ("User", "Group")
MAX_ATTRIBUTES = 100  # per schema, sub-attributes included: discovery documents stay small
MAX_URN_LENGTH = 256

# RFC 7644 §3.10 ATTRNAME (and "$ref" for sub-attributes, as RFC 7643 uses it).
_ATTR_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
# What the filter and path grammar can carry inside a URN (the lexer's name characters).
_URN = re.compile(r"(?i:urn):[A-Za-z0-9][A-Za-z0-9_.\-]*(?::[A-Za-z0-9_.\-]+)+")
_TOP_KEYS = frozenset({"id", "name", "description", "attributes", "schemas", "meta"})
_ATTR_KEYS = frozenset(
    {
        "name",
        "type",
        "multiValued",
        "description",
        "required",
        "caseExact",
        "mutability",
        "returned",
        "uniqueness",
        "canonicalValues",
        "referenceTypes",
        "subAttributes",
    }
)


class SchemaDocumentError(ValueError):
    """A schema document scimhub cannot take; the message names the problem and where it is."""


@dataclass(frozen=True, slots=True)
class DeclaredSchema:
    """One extension schema a tenant declared, as stored (``document`` is canonical)."""

    urn: str
    resource_type: str
    document: JsonDoc
    required: bool = False
    indexed: tuple[str, ...] = ()  # attributes whose values the store indexes (built or building)
    ready: tuple[str, ...] = ()  # those whose index is complete: filters use it


def declare_schema(data: Any, reserved: Iterable[str]) -> JsonDoc:
    """The canonical RFC 7643 §7 document for ``data``; ``reserved`` are URNs it must not use
    (the built-in schemas, the tenant's other extensions)."""
    if not isinstance(data, dict):
        raise SchemaDocumentError("A schema document must be a JSON object with 'id' and 'attributes'.")
    _no_unknown_keys(data, _TOP_KEYS, "the schema document")
    urn = _check_urn(data.get("id"), reserved)
    attributes = data.get("attributes")
    if not isinstance(attributes, list) or not attributes:
        raise SchemaDocumentError(f"Schema {urn}: 'attributes' must be a non-empty array of attribute definitions.")
    canonical = _attributes(attributes, urn, parent=None)
    count = len(canonical) + sum(len(a.get("subAttributes", ())) for a in canonical)
    if count > MAX_ATTRIBUTES:
        raise SchemaDocumentError(f"Schema {urn} defines {count} attributes; at most {MAX_ATTRIBUTES} are allowed.")
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": urn,
        "name": _text(data, "name", urn, default=urn),
        "description": _text(data, "description", urn, default=""),
        "attributes": canonical,
    }


def check_redeclaration(old: JsonDoc, new: JsonDoc) -> None:
    """A new version of a declaration may add attributes and change how they are presented, but
    not drop one or change what a stored value means (type, multiValued, caseExact): stored values
    are never orphaned or reinterpreted by a change of declaration."""
    _compatible(old["attributes"], new["attributes"], f"{old['id']}:")


def _compatible(old: list[JsonDoc], new: list[JsonDoc], prefix: str) -> None:
    by_name = {a["name"].casefold(): a for a in new}
    for before in old:
        path = prefix + before["name"]
        after = by_name.get(before["name"].casefold())
        if after is None:
            raise SchemaDocumentError(
                f"'{path}' is declared now and would be dropped; stored values must keep their declaration "
                "(remove the whole schema instead: its data stays stored)."
            )
        for key in ("type", "multiValued", "caseExact"):
            if before[key] != after[key]:
                raise SchemaDocumentError(
                    f"'{path}' cannot change {key} from {before[key]!r} to {after[key]!r}: stored values would "
                    "be read differently. Declare a new attribute instead."
                )
        for key, value, why in _DISCARDING:
            if after[key] == value and before[key] != value:
                raise SchemaDocumentError(f"'{path}' cannot become {key} {value!r}: {why}.")
        _compatible(before.get("subAttributes", []), after.get("subAttributes", []), f"{path}.")


# Characteristics under which a write would discard a stored value (validate ignores such input).
_DISCARDING = (
    ("returned", "never", "its stored values would be dropped by the next write (like passwords, never kept)"),
    ("mutability", "readOnly", "a full replace would drop its stored values (clients' readOnly input is ignored)"),
)


def _check_urn(urn: Any, reserved: Iterable[str]) -> str:
    if not isinstance(urn, str) or not urn:
        raise SchemaDocumentError("The schema document needs an 'id': the extension's URN.")
    if len(urn) > MAX_URN_LENGTH or not _URN.fullmatch(urn):
        raise SchemaDocumentError(
            f"Schema id {urn[:MAX_URN_LENGTH]!r} is not a URN scimhub can serve: urn: followed by "
            "colon-separated segments of letters, digits, '.', '-' and '_' (at most "
            f"{MAX_URN_LENGTH} characters), e.g. urn:ietf:params:scim:schemas:extension:acme:2.0:User."
        )
    key = urn.casefold()
    for other in reserved:
        taken = other.casefold()
        if key == taken:
            raise SchemaDocumentError(f"Schema id {urn} collides with the schema {other} the tenant already has.")
        if key.startswith(taken + ":") or taken.startswith(key + ":"):
            # "urn:…:User:x" would read as attribute x of the shorter URN.
            raise SchemaDocumentError(
                f"Schema id {urn} and {other} would make attribute names ambiguous: one URN must not extend the other."
            )
    return urn


def _attributes(items: list[Any], urn: str, parent: str | None) -> list[JsonDoc]:
    seen: set[str] = set()
    out = []
    for i, item in enumerate(items):
        where = f"{urn}:{parent}.attribute #{i + 1}" if parent else f"{urn} attribute #{i + 1}"
        attr = _attribute(item, urn, parent, where)
        if attr["name"].casefold() in seen:
            raise SchemaDocumentError(
                f"'{_path(urn, parent, attr['name'])}' is defined twice (names are case-insensitive)."
            )
        seen.add(attr["name"].casefold())
        out.append(attr)
    return out


def _attribute(item: Any, urn: str, parent: str | None, where: str) -> JsonDoc:
    if not isinstance(item, dict):
        raise SchemaDocumentError(f"{where} must be a JSON object.")
    name = item.get("name")
    if not isinstance(name, str) or not (_ATTR_NAME.fullmatch(name) or (parent and name == "$ref")):
        raise SchemaDocumentError(
            f"{where}: 'name' must start with a letter and hold only letters, digits, '-' and '_' "
            f"(RFC 7644 §3.10), at most 64 characters; got {name!r}."
        )
    path = _path(urn, parent, name)
    _no_unknown_keys(item, _ATTR_KEYS, f"'{path}'")
    kind = _enum(item, "type", AttrType, path, None)
    subs = item.get("subAttributes")
    attr: JsonDoc = {
        "name": name,
        "type": kind.value,
        "multiValued": _flag(item, "multiValued", path),
        "description": _text(item, "description", path, default=""),
        "required": _flag(item, "required", path),
        "caseExact": _flag(item, "caseExact", path),
        "mutability": _enum(item, "mutability", Mutability, path, Mutability.READ_WRITE).value,
        "returned": _enum(item, "returned", Returned, path, Returned.DEFAULT).value,
        "uniqueness": _enum(item, "uniqueness", Uniqueness, path, Uniqueness.NONE).value,
    }
    if attr["uniqueness"] != Uniqueness.NONE.value:
        raise SchemaDocumentError(
            f'\'{path}\': scimhub does not enforce uniqueness of extension attributes; declare "uniqueness": "none".'
        )
    if "canonicalValues" in item:
        attr["canonicalValues"] = _strings(item, "canonicalValues", path)
    if "referenceTypes" in item or kind is AttrType.REFERENCE:
        if kind is not AttrType.REFERENCE:
            raise SchemaDocumentError(f"'{path}': referenceTypes is only for attributes of type reference.")
        attr["referenceTypes"] = _strings(item, "referenceTypes", path) or ["external"]
    if kind is AttrType.COMPLEX:
        attr["subAttributes"] = _sub_attributes(subs, urn, name, path, parent)
    elif subs is not None:
        raise SchemaDocumentError(
            f"'{path}' has subAttributes but is of type {kind.value}; only complex attributes have them."
        )
    return attr


def _sub_attributes(subs: Any, urn: str, name: str, path: str, parent: str | None) -> list[JsonDoc]:
    if parent is not None:
        raise SchemaDocumentError(f"'{path}': a sub-attribute cannot be complex (RFC 7643 §2.3.8).")
    if not isinstance(subs, list) or not subs:
        raise SchemaDocumentError(f"'{path}' is complex and needs a non-empty 'subAttributes' array.")
    return _attributes(subs, urn, name)


def _path(urn: str, parent: str | None, name: str) -> str:
    return f"{urn}:{parent}.{name}" if parent else f"{urn}:{name}"


def _no_unknown_keys(item: dict[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(k for k in item if k not in known)
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise SchemaDocumentError(
            f"{where} has unknown key(s) {names} (RFC 7643 §7 names: {', '.join(sorted(known))})."
        )


def _enum(item: dict[str, Any], key: str, kind: Any, path: str, default: Any) -> Any:
    value = item.get(key)
    if value is None and default is not None:
        return default
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise SchemaDocumentError(f"'{path}': {key} {value!r} is not one of {allowed}.") from None


def _flag(item: dict[str, Any], key: str, path: str) -> bool:
    value = item.get(key, False)
    if not isinstance(value, bool):
        raise SchemaDocumentError(f"'{path}': {key} must be true or false, not {value!r}.")
    return value


def _text(item: dict[str, Any], key: str, path: str, default: str) -> str:
    value = item.get(key, default)
    if not isinstance(value, str) or len(value) > 1024:
        raise SchemaDocumentError(f"'{path}': {key} must be a string of at most 1024 characters.")
    return value


def _strings(item: dict[str, Any], key: str, path: str) -> list[str]:
    value = item.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or len(value) > 100:
        raise SchemaDocumentError(f"'{path}': {key} must be an array of at most 100 non-empty strings.")
    return list(value)
