"""Response projection: ``attributes`` / ``excludedAttributes`` and ``returned`` (RFC 7644 §3.4.2.5, RFC 7643 §7)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

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
        if attr.returned is Returned.REQUEST:
            return False
        return not (key in self.excluded and self.excluded[key] is None)


def parse_projection(rtype: ResourceType, common: Schema, attributes: str | None, excluded: str | None) -> Projection:
    """Parse the comma-separated parameters; unknown names select nothing (not an error)."""
    requested: dict[_Key, frozenset[str] | None] = {}
    extensions: set[str] = set()
    for name in _names(attributes):
        ext = find_schema(rtype, name)
        if ext is not None and ext is not rtype.schema:
            extensions.add(ext.id)
            continue
        _add(requested, rtype, common, name)
    dropped: dict[_Key, frozenset[str] | None] = {}
    excluded_extensions: set[str] = set()
    for name in _names(excluded):
        ext = find_schema(rtype, name)
        if ext is not None and ext is not rtype.schema:
            excluded_extensions.add(ext.id)
            continue
        _add(dropped, rtype, common, name)
    return Projection(requested, dropped, frozenset(extensions), frozenset(excluded_extensions))


def _names(param: str | None) -> list[str]:
    return [n.strip() for n in (param or "").split(",") if n.strip()]


def _add(target: dict[_Key, frozenset[str] | None], rtype: ResourceType, common: Schema, name: str) -> None:
    bound = resolve_name(rtype, common, name)
    if bound is None:
        return
    key = (bound.extension or "", bound.attribute.name.casefold())
    if bound.sub is None:
        target[key] = None
    elif key not in target or target[key] is not None:
        target[key] = (target.get(key) or frozenset()) | {bound.sub.name.casefold()}


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
