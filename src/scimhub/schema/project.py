"""Response projection: ``attributes`` / ``excludedAttributes`` and ``returned`` (RFC 7644 §3.4.2.5, RFC 7643 §7)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from scimhub.errors import InvalidValue
from scimhub.schema.model import Attribute
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.model import Returned
from scimhub.schema.model import Schema
from scimhub.schema.paths import find_schema
from scimhub.schema.paths import resolve_name

_Key = tuple[str, str]  # (extension URN or "", casefolded attribute name)


@dataclass(frozen=True, slots=True)
class Projection:
    """Which attributes a response carries; built once per request."""

    requested: dict[_Key, frozenset[str] | None] = field(default_factory=dict)
    excluded: dict[_Key, frozenset[str] | None] = field(default_factory=dict)
    requested_extensions: frozenset[str] = frozenset()
    excluded_extensions: frozenset[str] = frozenset()

    def includes(self, attr: Attribute, extension: str | None = None) -> bool:
        """Whether ``attr`` can appear at all (lets the store skip loading it, e.g. members)."""
        key = (extension or "", attr.name.casefold())
        if attr.returned is Returned.NEVER:
            return False
        if attr.returned is Returned.ALWAYS:
            return True
        if self.requested or self.requested_extensions:
            return key in self.requested or (extension or "") in self.requested_extensions
        if attr.returned is Returned.REQUEST or (extension or "") in self.excluded_extensions:
            return False
        return not (key in self.excluded and self.excluded[key] is None)


def parse_projection(
    rtype: ResourceType,
    common: Schema,
    attributes: str | None,
    excluded: str | None,
    *,
    ignore_unknown: bool = False,
) -> Projection:
    """Parse the comma-separated parameters (RFC 7644 §3.9). Each name is an attribute, a
    sub-attribute or a schema URN of ``rtype`` (the core one: its attributes); an unknown name is
    400 invalidValue, as for ``sortBy`` (§3.4.2.3), since silently dropping a misspelt name changes
    what the response holds. ``ignore_unknown``: names of other resource types (root searches)."""
    requested, extensions = _selection(rtype, common, attributes, "attributes", ignore_unknown)
    dropped, excluded_extensions = _selection(rtype, common, excluded, "excludedAttributes", ignore_unknown)
    return Projection(requested, dropped, extensions, excluded_extensions)


def unknown_names(rtype: ResourceType, common: Schema, param: str | None) -> set[str]:
    """The names of ``param`` that ``rtype`` does not know."""
    return {n for n in _names(param) if find_schema(rtype, n) is None and resolve_name(rtype, common, n) is None}


def _selection(
    rtype: ResourceType, common: Schema, param: str | None, label: str, ignore_unknown: bool
) -> tuple[dict[_Key, frozenset[str] | None], frozenset[str]]:
    """Attributes and whole schemas ("" for the core one) named by one parameter."""
    chosen: dict[_Key, frozenset[str] | None] = {}
    schemas: set[str] = set()
    for name in _names(param):
        schema = find_schema(rtype, name)
        if schema is not None:
            schemas.add("" if schema is rtype.schema else schema.id)
        elif not _add(chosen, rtype, common, name) and not ignore_unknown:
            raise InvalidValue(f"{label} names an unknown attribute: {name!r}.")
    return chosen, frozenset(schemas)


def _names(param: str | None) -> list[str]:
    return [n.strip() for n in (param or "").split(",") if n.strip()]


def _add(target: dict[_Key, frozenset[str] | None], rtype: ResourceType, common: Schema, name: str) -> bool:
    bound = resolve_name(rtype, common, name)
    if bound is None:
        return False
    key = (bound.extension or "", bound.attribute.name.casefold())
    if bound.sub is None:
        target[key] = None
    elif key not in target or target[key] is not None:
        target[key] = (target.get(key) or frozenset()) | {bound.sub.name.casefold()}
    return True


def project(doc: JsonDoc, rtype: ResourceType, common: Schema, projection: Projection) -> JsonDoc:
    """A new document holding only what the response may carry."""
    if keeps_everything(projection, rtype):
        return doc
    out: JsonDoc = {}
    for key, value in doc.items():
        if key == "schemas":
            out[key] = value
            continue
        ext = rtype.extension(key) if key.startswith("urn:") else None
        if ext is not None:
            kept = _project_container(value, ext, projection)
            if kept:
                out[key] = kept
            continue
        attr = common.attribute(key) or rtype.schema.attribute(key)
        if attr is not None:
            _project_attr(out, attr, value, None, projection)
    return out


def keeps_everything(projection: Projection, rtype: ResourceType) -> bool:
    """Whether a response carries a stored document whole: the default projection, and no attribute
    returned only on request (stored documents hold no returned=never values)."""
    return projection == DEFAULT_PROJECTION and not _has_hidden_attributes(rtype)


def _project_container(container: JsonDoc, ext: Schema, projection: Projection) -> JsonDoc:
    out: JsonDoc = {}
    if ext.id in projection.excluded_extensions and not (projection.requested or projection.requested_extensions):
        return {attr: value for attr, value in container.items() if _always(ext, attr)}
    whole = ext.id in projection.requested_extensions
    for key, value in container.items():
        attr = ext.attribute(key)
        if attr is None or attr.returned is Returned.NEVER:
            continue
        if whole:
            out[key] = value
        else:
            _project_attr(out, attr, value, ext.id, projection)
    return out


def _project_attr(out: JsonDoc, attr: Attribute, value: Any, ext: str | None, projection: Projection) -> None:
    if not projection.includes(attr, ext):
        return
    key = (ext or "", attr.name.casefold())
    if attr.returned is Returned.ALWAYS:
        out[attr.name] = value
        return
    if projection.requested or projection.requested_extensions:
        subs = projection.requested.get(key)
        out[attr.name] = value if subs is None else _select_subs(attr, value, subs, keep=True)
        return
    dropped = projection.excluded.get(key)
    out[attr.name] = value if dropped is None else _select_subs(attr, value, dropped, keep=False)


def _select_subs(attr: Attribute, value: Any, names: frozenset[str], *, keep: bool) -> Any:
    def pick(item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        return {k: v for k, v in item.items() if _sub_kept(attr, k, names, keep)}

    if isinstance(value, list):
        return [p for p in (pick(i) for i in value) if p]
    return pick(value)


def _sub_kept(attr: Attribute, name: str, names: frozenset[str], keep: bool) -> bool:
    sub = attr.sub_attribute(name)
    if sub is not None and sub.returned is Returned.ALWAYS:
        return True
    return (name.casefold() in names) is keep


def _always(ext: Schema, name: str) -> bool:
    attr = ext.attribute(name)
    return attr is not None and attr.returned is Returned.ALWAYS


DEFAULT_PROJECTION = Projection()  # no attributes / excludedAttributes


_HIDDEN: dict[int, bool] = {}  # by id(): resource types live as long as their registry


def _has_hidden_attributes(rtype: ResourceType) -> bool:
    """Whether a default response must drop something: attributes returned only on request."""
    known = _HIDDEN.get(id(rtype))
    if known is None:
        schemas = [rtype.schema, *(ext for ext, _ in rtype.extensions)]
        attrs = [a for schema in schemas for a in schema.attributes]
        known = any(a.returned is Returned.REQUEST for a in [*attrs, *(s for a in attrs for s in a.sub_attributes)])
        _HIDDEN[id(rtype)] = known
    return known
