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
from scimhub.schema.undeclared import is_undeclared_urn
from scimhub.schema.undeclared import unknown_in_extension

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
    undeclared: bool = False,
) -> Projection:
    """Parse the comma-separated parameters (RFC 7644 §3.9). Each name is an attribute, a
    sub-attribute or a schema URN of ``rtype`` (the core one: its attributes); an unknown name is
    400 invalidValue, as for ``sortBy`` (§3.4.2.3), since silently dropping a misspelt name changes
    what the response holds. ``ignore_unknown``: names of other resource types (root searches).
    ``undeclared``: the tenant keeps undeclared extension data (``policy.keep_undeclared_extensions``),
    so a URN no schema declares, or ``urn:…:attr`` under one, selects that data."""
    requested, extensions, kept = _selection(rtype, common, attributes, "attributes", ignore_unknown, undeclared)
    dropped, excluded_extensions, excluded_kept = _selection(
        rtype, common, excluded, "excludedAttributes", ignore_unknown, undeclared
    )
    return Projection(requested, dropped, extensions, excluded_extensions, kept, excluded_kept)


def unknown_names(rtype: ResourceType, common: Schema, param: str | None, undeclared: bool = False) -> set[str]:
    """The names of ``param`` that ``rtype`` does not know (``undeclared``: see ``parse_projection``)."""
    return {
        n
        for n in _names(param)
        if find_schema(rtype, n) is None
        and resolve_name(rtype, common, n) is None
        and not (undeclared and _undeclared(rtype, n))
    }


def _undeclared(rtype: ResourceType, name: str) -> bool:
    """A name of undeclared extension data: its URN, or ``urn:…:attr`` in it (kept as sent)."""
    head, _, attr = name.rpartition(":")
    return (
        is_undeclared_urn(rtype, name)
        or is_undeclared_urn(rtype, head)
        or bool(attr and unknown_in_extension(rtype, head, attr))
    )


def _selection(
    rtype: ResourceType, common: Schema, param: str | None, label: str, ignore_unknown: bool, undeclared: bool
) -> tuple[dict[_Key, frozenset[str] | None], frozenset[str], frozenset[str]]:
    """Attributes, whole schemas ("" for the core one) and undeclared extension data named by
    one parameter."""
    chosen: dict[_Key, frozenset[str] | None] = {}
    schemas: set[str] = set()
    kept: set[str] = set()
    for name in _names(param):
        schema = find_schema(rtype, name)
        if schema is not None:
            schemas.add("" if schema is rtype.schema else schema.id)
        elif _add(chosen, rtype, common, name):
            continue
        elif undeclared and _undeclared(rtype, name):
            kept.add(name.casefold())
        elif not ignore_unknown:
            raise InvalidValue(f"{label} names an unknown attribute: {name!r}.")
    return chosen, frozenset(schemas), frozenset(kept)


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
        if attr is None:  # kept as sent (policy.keep_undeclared_extensions): selected by its name
            if whole or _undeclared_kept(f"{ext.id.casefold()}:{key.casefold()}", projection):
                out[key] = value
        elif attr.returned is Returned.NEVER:
            continue
        elif whole:
            out[key] = value
        else:
            _project_attr(out, attr, value, ext.id, projection)
    return out


def _undeclared_kept(name: str, projection: Projection) -> bool:
    if projection.asks:
        return name in projection.requested_undeclared
    return name not in projection.excluded_undeclared


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
