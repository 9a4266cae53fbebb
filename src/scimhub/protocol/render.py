"""Stored resource → SCIM representation (RFC 7643 §3.1 meta, §4.2 members, §4.1 groups)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import orjson

from scimhub.protocol.etag import etag
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.project import Projection
from scimhub.schema.project import keeps_everything
from scimhub.schema.registry import SchemaRegistry
from scimhub.schema.relations import relation_attribute
from scimhub.store.base import MemberRef
from scimhub.store.base import StoredResource


def location(base_url: str, rtype: ResourceType, id: str) -> str:
    return f"{base_url}{rtype.endpoint}/{id}"


def render(
    stored: StoredResource,
    rtype: ResourceType,
    registry: SchemaRegistry,
    base_url: str,
    related: list[MemberRef] | None = None,
) -> JsonDoc:
    """Full representation (before projection); ``related`` are members or groups."""
    doc: JsonDoc = {"schemas": stored.doc.get("schemas", [rtype.schema.id]), "id": stored.id}
    doc.update((k, v) for k, v in stored.doc.items() if k != "schemas")
    relation = relation_attribute(rtype)
    if relation and related:
        doc[relation] = [_member(m, registry, base_url) for m in related]
    doc["meta"] = _meta(stored, rtype, base_url)
    return doc


_WITHOUT = {name: Projection(excluded={("", name): None}) for name in ("members", "groups")}


def splices(projection: Projection, rtype: ResourceType) -> bool:
    """Whether ``render_json`` makes a list item: the default projection, or one that only leaves
    out members/groups (``excludedAttributes=members``, every IdP's group list), which live in
    their own table and never in the stored text. Then the text is spliced, not parsed."""
    if keeps_everything(projection, rtype):
        return True
    relation = relation_attribute(rtype)
    return relation is not None and not rtype.has_request_only and projection == _WITHOUT.get(relation)


def render_json(
    stored: StoredResource,
    rtype: ResourceType,
    registry: SchemaRegistry,
    base_url: str,
    related: list[MemberRef] | None = None,
) -> orjson.Fragment | None:
    """``render`` as JSON spliced onto the stored text, which is never parsed (a list page of 100
    spends most of its time parsing and re-serialising documents otherwise). None when the
    resource was not read from the database; the caller then renders the parsed document.
    Stored documents are validated ones: they carry ``schemas`` (``validate_resource`` sets it)
    and never id, meta, members or groups (readOnly, dropped on input), so appending those
    makes no duplicate key."""
    text = stored.doc_json
    if text is None:
        return None
    # Runs 100 times a page: one dict, one dumps, one concatenation.
    tail: dict[str, object] = {"id": stored.id}
    relation = relation_attribute(rtype)
    if relation and related:
        tail[relation] = [_member(m, registry, base_url) for m in related]
    tail["meta"] = _meta(stored, rtype, base_url)
    return orjson.Fragment(text[:-1].encode() + b"," + orjson.dumps(tail)[1:])


def render_page_json(
    items: Sequence[StoredResource],
    rtype: ResourceType,
    registry: SchemaRegistry,
    base_url: str,
    related: dict[str, list[MemberRef]],
) -> list[orjson.Fragment | JsonDoc]:
    """``render_json`` for a page of items (``render`` for one not read from the database), with
    what is the same for every item (relation, location prefix, resource type) looked up once.

    An item without related resources gets its id and meta from one template per page, formatted
    as text: no dict and no ``orjson.dumps`` per item (a page of 100 made 100 of each). Only values
    that JSON writes as they are (``_VERBATIM``: printable ASCII without quote or backslash, what
    the server's ids and timestamps are) go in unescaped; any other item is dumped as before."""
    relation = relation_attribute(rtype)
    prefix = location(base_url, rtype, "")
    name = rtype.name
    verbatim = _VERBATIM.fullmatch
    templated = verbatim(name + prefix) is not None  # else every item is dumped (JSON would escape them)
    dumps, fragment = orjson.dumps, orjson.Fragment
    out: list[orjson.Fragment | JsonDoc] = []
    for stored in items:
        text = stored.doc_json
        refs = related.get(stored.id)
        if text is None:
            out.append(render(stored, rtype, registry, base_url, refs))
            continue
        if templated and not (relation and refs):
            id, created, modified = stored.id, stored.created, stored.last_modified
            if verbatim(id + created + modified) is not None:
                # Exactly what the dumps below writes, as one f-string (the page's template).
                item = (
                    f'{text[:-1]},"id":"{id}","meta":{{"resourceType":"{name}","created":"{created}",'
                    f'"lastModified":"{modified}","location":"{prefix}{id}","version":"W/\\"{stored.version}\\""}}}}'
                )
                out.append(fragment(item.encode()))
                continue
        tail: dict[str, object] = {"id": stored.id}
        if relation and refs:
            tail[relation] = [_member(m, registry, base_url) for m in refs]
        tail["meta"] = {
            "resourceType": name,
            "created": stored.created,
            "lastModified": stored.last_modified,
            "location": prefix + stored.id,
            "version": f'W/"{stored.version}"',
        }
        out.append(fragment(text[:-1].encode() + b"," + dumps(tail)[1:]))
    return out


# Text JSON writes unchanged inside a string: printable ASCII but the quote and the backslash.
_VERBATIM = re.compile(r"[ !#-\[\]-~]*")


def _meta(stored: StoredResource, rtype: ResourceType, base_url: str) -> JsonDoc:
    return {
        "resourceType": rtype.name,
        "created": stored.created,
        "lastModified": stored.last_modified,
        "location": location(base_url, rtype, stored.id),
        "version": etag(stored.version),
    }


def _member(member: MemberRef, registry: SchemaRegistry, base_url: str) -> JsonDoc:
    target = registry.resource_types.get(member.type) or registry.resource_type("Group")
    out: JsonDoc = {
        "value": member.value,
        "$ref": location(base_url, target, member.value),
        "type": member.type,
    }
    if member.display is not None:
        out["display"] = member.display
    return out
