"""Which attribute values the store keeps as indexed comparison keys (the SQL index plan).

This is storage configuration, stated once: the attributes IdPs look users and groups up
by (Okta and Entra existence checks) get key columns; everything else is read from the
JSON document. Keys are ``comparison_key`` values (NFC + casefold unless caseExact).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from scimhub.filter.ast import CompareOp
from scimhub.filter.bind import BCompare
from scimhub.filter.bind import Bound
from scimhub.schema.compare import comparison_key
from scimhub.schema.model import Attribute
from scimhub.schema.model import AttrType
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.model import Schema
from scimhub.schema.paths import BoundPath
from scimhub.store.base import IndexKeys

# canonical path → column of the resources table
KEY_COLUMNS: dict[str, str] = {
    "userName": "k_user_name",
    "externalId": "k_external_id",
    "displayName": "k_display_name",
}
# server-managed values that live in their own columns (case-exact)
SERVER_COLUMNS: dict[str, str] = {"id": "id"}
# meta sub-attributes kept in columns of their own (RFC 7643 §3.1)
META_COLUMNS: dict[str, str] = {"created": "created", "lastModified": "last_modified"}
# canonical path of a multi-valued sub-attribute → rows in resource_values
MULTI_VALUE_KEYS: tuple[str, ...] = ("emails.value",)
# what a member's `display` shows, first present wins
DISPLAY_SOURCES: tuple[str, ...] = ("displayName", "userName")
ACTIVE_ATTRIBUTE = "active"


def key_column(path: BoundPath) -> str | None:
    if path.extension is not None:
        return None
    return KEY_COLUMNS.get(path.key) or SERVER_COLUMNS.get(path.key)


def extension_index_path(urn: str, name: str) -> str:
    """The resource_values path of a tenant's indexed extension attribute: a digest, as URNs can be
    longer than the column (and are case-insensitive)."""
    return "x:" + hashlib.sha256(f"{urn}:{name}".casefold().encode()).hexdigest()[:40]


def value_index_path(path: BoundPath) -> str | None:
    """The resource_values path whose rows answer ``path eq "…"``, if the store keeps one."""
    if path.extension is None:
        return path.key if path.key in MULTI_VALUE_KEYS else None
    if path.sub is None and path.attribute.indexed:
        return extension_index_path(path.extension, path.attribute.name)
    return None


@dataclass(frozen=True, slots=True)
class EqProbe:
    """``path eq "…"`` as one index probe: on a key column of resources (``column``), or on the
    resource_values rows of ``value_path``; ``key`` is the value's comparison key."""

    column: str | None
    value_path: str | None
    key: str


def eq_probe(node: Bound | None) -> EqProbe | None:
    """The index probe that answers filter ``node`` (the IdP existence check), or None when it is
    not a string equality on an indexed attribute."""
    if not (isinstance(node, BCompare) and node.op is CompareOp.EQ and isinstance(node.value, str)):
        return None
    column = key_column(node.path)
    value_path = value_index_path(node.path) if column is None else None
    if column is None and value_path is None:
        return None
    return EqProbe(column, value_path, comparison_key(node.path.leaf, node.value))


def is_multi_value_key(path: BoundPath) -> bool:
    return value_index_path(path) is not None


def index_keys(doc: JsonDoc, rtype: ResourceType, common: Schema) -> IndexKeys:
    """Comparison keys of ``doc`` for the index plan above."""
    columns: dict[str, str | None] = {}
    for name, column in KEY_COLUMNS.items():
        attr = common.attribute(name) or rtype.schema.attribute(name)
        value = doc.get(name)
        columns[column] = comparison_key(attr, value) if attr and isinstance(value, str) else None
    multi = {path: tuple(_multi_keys(doc, rtype, path)) for path in MULTI_VALUE_KEYS}
    for urn, name in rtype.value_indexes:
        multi[extension_index_path(urn, name)] = extension_keys(doc, rtype, urn, name)
    display = next((doc[n] for n in DISPLAY_SOURCES if isinstance(doc.get(n), str)), None)
    active = doc.get(ACTIVE_ATTRIBUTE)
    return IndexKeys(
        columns,
        multi,
        active if isinstance(active, bool) else None,
        display,
        lambda: comparison_document(doc, rtype, common),
    )


# Attribute types whose values filters compare as strings, by their comparison keys.
KEYED_TYPES = frozenset({AttrType.STRING, AttrType.REFERENCE, AttrType.BINARY})


def comparison_document(doc: JsonDoc, rtype: ResourceType, common: Schema) -> JsonDoc:
    """``doc`` with every string a filter compares replaced by its comparison key (schema-driven);
    other values, and attributes no schema names, are kept as they are."""
    keyed: JsonDoc = {}
    for name, value in doc.items():
        extension = rtype.extension(name) if name.startswith("urn:") else None
        if extension is not None and isinstance(value, dict):
            keyed[name] = {n: _keyed(extension.attribute(n), v) for n, v in value.items()}
        elif extension is None and name.startswith("urn:") and isinstance(value, dict):
            # Undeclared extension data: keyed as RFC 7643's default string (caseExact false), so a
            # later declaration of it finds these keys right (`scimhub schema add` rekeys the rest).
            keyed[name] = _keyed_undeclared(value)
        else:
            keyed[name] = _keyed(common.attribute(name) or rtype.schema.attribute(name), value)
    return keyed


_UNDECLARED = Attribute(name="value", type=AttrType.STRING, schema="")


def _keyed_undeclared(value: Any) -> Any:
    if isinstance(value, str):
        return comparison_key(_UNDECLARED, value)
    if isinstance(value, dict):
        return {n: _keyed_undeclared(v) for n, v in value.items()}
    if isinstance(value, list):
        return [_keyed_undeclared(v) for v in value]
    return value


def _keyed(attr: Attribute | None, value: Any) -> Any:
    if attr is None:
        return value
    if isinstance(value, list):
        return [_keyed_single(attr, item) for item in value]
    return _keyed_single(attr, value)


def _keyed_single(attr: Attribute, value: Any) -> Any:
    if isinstance(value, str):
        return comparison_key(attr, value) if attr.type in KEYED_TYPES else value
    if isinstance(value, dict):
        return {n: _keyed(attr.sub_attribute(n), v) for n, v in value.items()}
    return value


def _multi_keys(doc: JsonDoc, rtype: ResourceType, path: str) -> list[str]:
    name, _, sub_name = path.partition(".")
    attr = rtype.schema.attribute(name)
    sub = attr.sub_attribute(sub_name) if attr else None
    if sub is None:
        return []
    items = doc.get(name) or []
    return [comparison_key(sub, i[sub_name]) for i in items if isinstance(i.get(sub_name), str)]


def extension_keys(doc: JsonDoc, rtype: ResourceType, urn: str, name: str) -> tuple[str, ...]:
    """Comparison keys of a (string, single- or multi-valued) extension attribute's values."""
    schema = rtype.extension(urn)
    attr = schema.attribute(name) if schema else None
    container = doc.get(schema.id) if schema else None
    if attr is None or not isinstance(container, dict):
        return ()
    value = container.get(attr.name)
    values = value if isinstance(value, list) else [value]
    return tuple(comparison_key(attr, v) for v in values if isinstance(v, str))
