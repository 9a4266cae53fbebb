"""Response projection: ``attributes`` / ``excludedAttributes`` and ``returned`` (RFC 7644 §3.4.2.5, RFC 7643 §7)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

from scimhub.schema.model import Attribute
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.model import Returned
from scimhub.schema.model import Schema
from scimhub.schema.paths import find_schema
from scimhub.schema.paths import resolve_name
from scimhub.schema.undeclared import is_undeclared_urn

_Key = tuple[str, str]  # (extension URN or "", casefolded attribute name)


@dataclass(frozen=True, slots=True)
class Projection:
    """Which attributes a response carries; built once per request."""

    requested: dict[_Key, frozenset[str] | None] = field(default_factory=dict)
    excluded: dict[_Key, frozenset[str] | None] = field(default_factory=dict)
    requested_extensions: frozenset[str] = frozenset()
    excluded_extensions: frozenset[str] = frozenset()
    # Casefolded names of undeclared extension data (``urn:…:User`` or ``urn:…:User:attr``).
    requested_undeclared: frozenset[str] = frozenset()
    excluded_undeclared: frozenset[str] = frozenset()

    @property
    def asks(self) -> bool:
        """Whether ``attributes`` named anything: then only what it names is returned."""
        return bool(self.requested or self.requested_extensions or self.requested_undeclared)

    def includes(self, attr: Attribute, extension: str | None = None) -> bool:
        """Whether ``attr`` can appear at all (lets the store skip loading it, e.g. members)."""
        key = (extension or "", attr.name.casefold())
        if attr.returned is Returned.NEVER:
            return False
        if attr.returned is Returned.ALWAYS:
            return True
        if self.asks:
            return key in self.requested or (extension or "") in self.requested_extensions
        if attr.returned is Returned.REQUEST:
            return False
        return not (key in self.excluded and self.excluded[key] is None)


def without_unrequested(projection: Projection, attr: Attribute) -> Projection:
    """``projection`` minus ``attr`` unless the client asked for it by name (``attributes=``)."""
    key = ("", attr.name.casefold())
    if key in projection.requested:
        return projection
    return replace(projection, excluded={**projection.excluded, key: None})


def parse_projection(rtype: ResourceType, common: Schema, attributes: str | None, excluded: str | None) -> Projection:
    """Parse the comma-separated parameters; unknown names select nothing (not an error)."""
    requested: dict[_Key, frozenset[str] | None] = {}
    extensions: set[str] = set()
    undeclared: set[str] = set()
    for name in _names(attributes):
        _add_name(requested, extensions, undeclared, rtype, common, name)
    dropped: dict[_Key, frozenset[str] | None] = {}
    excluded_extensions: set[str] = set()
    excluded_undeclared: set[str] = set()
    for name in _names(excluded):
        _add_name(dropped, excluded_extensions, excluded_undeclared, rtype, common, name)
    return Projection(
        requested,
        dropped,
        frozenset(extensions),
        frozenset(excluded_extensions),
        frozenset(undeclared),
        frozenset(excluded_undeclared),
    )


def _add_name(
    target: dict[_Key, frozenset[str] | None],
    extensions: set[str],
    undeclared: set[str],
    rtype: ResourceType,
    common: Schema,
    name: str,
) -> None:
    ext = find_schema(rtype, name)
    if ext is not None and ext is not rtype.schema:
        extensions.add(ext.id)
    elif is_undeclared_urn(rtype, name) or is_undeclared_urn(rtype, name.rpartition(":")[0]):
        undeclared.add(name.casefold())
    else:
        _add(target, rtype, common, name)


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
        if isinstance(value, dict) and is_undeclared_urn(rtype, key):
            kept = _project_undeclared(key.casefold(), value, projection)
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
    return projection == DEFAULT_PROJECTION and not rtype.has_request_only


def _project_container(container: JsonDoc, ext: Schema, projection: Projection) -> JsonDoc:
    out: JsonDoc = {}
    if ext.id in projection.excluded_extensions and not projection.asks:
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


def _project_undeclared(urn: str, container: JsonDoc, projection: Projection) -> JsonDoc:
    """Undeclared extension data is returned by default; ``attributes`` / ``excludedAttributes``
    select it by its URN or ``urn:…:attr`` (nothing in it is typed, so nothing finer)."""
    if projection.asks:
        if urn in projection.requested_undeclared:
            return container
        return {k: v for k, v in container.items() if f"{urn}:{k.casefold()}" in projection.requested_undeclared}
    if urn in projection.excluded_undeclared:
        return {}
    return {k: v for k, v in container.items() if f"{urn}:{k.casefold()}" not in projection.excluded_undeclared}


def _project_attr(out: JsonDoc, attr: Attribute, value: Any, ext: str | None, projection: Projection) -> None:
    if not projection.includes(attr, ext):
        return
    key = (ext or "", attr.name.casefold())
    if attr.returned is Returned.ALWAYS:
        out[attr.name] = value
        return
    if projection.asks:
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
