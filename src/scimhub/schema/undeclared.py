"""Extension data under a URN the tenant has not declared: kept as sent, never dropped.

Okta sends custom attributes as an object under their extension URN (listed in ``schemas``);
Entra names them ``urn:…:<Name>:2.0:User:<attr>``. Without a declaration the server cannot type
them, so it keeps the JSON as sent (bounded by the request limits), returns it, puts it in events,
and lets PATCH set and remove its attributes by name (``Policy.keep_undeclared_extensions``).
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scimhub.errors import InvalidValue
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType


@dataclass(frozen=True, slots=True)
class UndeclaredName:
    """A name that addresses undeclared extension data: the container's URN, and the attribute
    (and sub-attribute) inside it, or None for the whole container."""

    urn: str
    attr: str | None = None
    sub: str | None = None


def is_undeclared_urn(rtype: ResourceType, urn: str) -> bool:
    """A URN that is neither the core schema nor an extension of ``rtype``, nor under one of them."""
    if urn[:4].casefold() != "urn:":
        return False
    key = urn.casefold()
    for known in rtype.schema_ids:
        k = known.casefold()
        if key == k or key.startswith(k + ":") or k.startswith(key + ":"):
            return False
    return True


def classify(
    rtype: ResourceType, name: str, value: Any, doc: JsonDoc, listed: Iterable[str] = ()
) -> UndeclaredName | None:
    """What ``name`` (a JSON key or a PATCH path without a filter) denotes, if it is undeclared
    extension data: an undeclared URN's object or an attribute in it, or an attribute a known
    extension does not declare (Okta puts custom attributes in the enterprise namespace too). A
    whole URN is a container when the document already has it or ``schemas`` lists it, or when it
    is sent an object and its prefix is neither; otherwise the part after the last colon is an
    attribute of the container before it (RFC 7644 §3.10)."""
    if name[:4].casefold() != "urn:":
        return None
    whole = existing_key(doc, name) or _listed(listed, name)
    head, _, tail = name.rpartition(":")
    attr, dot, sub = tail.partition(".")
    prefix = existing_key(doc, head) or _listed(listed, head)
    if (whole is not None or (prefix is None and isinstance(value, dict) and not dot)) and is_undeclared_urn(
        rtype, name
    ):
        return UndeclaredName(whole or name)
    if not attr:
        return None
    if is_undeclared_urn(rtype, head):
        return UndeclaredName(prefix or head, attr, sub if dot and sub else None)
    return unknown_in_extension(rtype, head, attr, sub if dot and sub else None)


def unknown_in_extension(rtype: ResourceType, urn: str, attr: str, sub: str | None = None) -> UndeclaredName | None:
    """``attr`` of the extension ``urn`` of ``rtype`` when that schema does not declare it."""
    schema = rtype.extension(urn)
    if schema is None or schema.attribute(attr) is not None:
        return None
    return UndeclaredName(schema.id, attr, sub)


def existing_key(doc: JsonDoc, urn: str) -> str | None:
    """The spelling under which ``doc`` holds the container ``urn`` (URNs are case-insensitive)."""
    if urn in doc:
        return urn
    key = urn.casefold()
    return next((k for k in doc if k.casefold() == key), None)


def _listed(listed: Iterable[str], urn: str) -> str | None:
    key = urn.casefold()
    return next((s for s in listed if isinstance(s, str) and s.casefold() == key), None)


def check_value(value: Any, where: str) -> None:
    """What a document can store: no U+0000 anywhere (PostgreSQL text and jsonb cannot hold it)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidValue(f"'{where}' must not contain the NUL character (U+0000).")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_value(key, where)
            check_value(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_value(item, f"{where}[{i}]")


def without_nulls(value: Any) -> Any:
    """RFC 7643 §2.5: null is unassigned, also inside data the server cannot type."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value if v is not None]
    return value


def place(doc: JsonDoc, name: UndeclaredName, value: Any, *, add: bool = False) -> None:
    """Set undeclared data (a create/PUT key, a PATCH add or replace). ``add`` to an array
    appends the values not already there (RFC 7644 §3.5.2.1 on multi-valued attributes)."""
    where = name.urn if name.attr is None else f"{name.urn}:{name.attr}"
    check_value(value, where)
    value = without_nulls(value)
    if name.attr is None:
        if not isinstance(value, dict):
            raise InvalidValue(f"'{name.urn}' must be a JSON object of extension attributes.")
        container = doc.setdefault(existing_key(doc, name.urn) or name.urn, {})
        for attr, item in value.items():
            _set(container, attr, item, add)
    else:
        container = doc.setdefault(existing_key(doc, name.urn) or name.urn, {})
        if not isinstance(container, dict):
            raise InvalidValue(f"'{name.urn}' holds no object of attributes to set '{name.attr}' in.")
        if name.sub is not None:
            current = container.get(name.attr)
            container[name.attr] = {**(current if isinstance(current, dict) else {}), name.sub: value}
        else:
            _set(container, name.attr, value, add)
    _drop_empty(doc, name.urn)


def _set(container: JsonDoc, attr: str, value: Any, add: bool) -> None:
    current = container.get(attr)
    if add and isinstance(current, list) and isinstance(value, list):
        container[attr] = current + [v for v in value if v not in current]
    elif value is None or value == [] or value == {}:
        container.pop(attr, None)
    else:
        container[attr] = value


def remove(doc: JsonDoc, name: UndeclaredName) -> None:
    """PATCH remove: the container, an attribute of it, or a sub-attribute (absent: no change)."""
    key = existing_key(doc, name.urn)
    if key is None:
        return
    container = doc[key]
    if name.attr is None or not isinstance(container, dict):
        del doc[key]
        return
    if name.sub is None:
        container.pop(name.attr, None)
    elif isinstance(container.get(name.attr), dict):
        container[name.attr].pop(name.sub, None)
        if not container[name.attr]:
            del container[name.attr]
    _drop_empty(doc, key)


def _drop_empty(doc: JsonDoc, urn: str) -> None:
    key = existing_key(doc, urn)
    if key is not None and doc[key] == {}:
        del doc[key]


def undeclared_urns(doc: JsonDoc, rtype: ResourceType) -> list[str]:
    """The undeclared extension containers ``doc`` holds (for its ``schemas``)."""
    known = rtype.extension_ids  # the usual case, spelled as stored: no casefolding
    return [
        k
        for k, v in doc.items()
        if v.__class__ is dict and k not in known and k[:4].casefold() == "urn:" and is_undeclared_urn(rtype, k)
    ]
