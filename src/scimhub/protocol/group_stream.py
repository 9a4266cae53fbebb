"""GET of a group as a stream of JSON pieces: its members straight from the store, a chunk at a time.

A group of 100,000 members is ~19 MB of JSON. Rendered whole it was a list of 100,000 dicts and
~0.6 s before the first byte; streamed, the first byte goes once the group row and the first
chunk of members are read, and memory stays at one chunk whatever the group's size.

Consistency: the group row (its version is the ETag) and every member come from one read snapshot
(``Store.group_members``), held until the last piece is sent: the members are those of the version
the ETag names, even if writes commit while the response is on the wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import orjson

from scimhub.errors import NotFound
from scimhub.protocol.context import RequestContext
from scimhub.protocol.render import location
from scimhub.protocol.render import render
from scimhub.schema.model import ResourceType
from scimhub.schema.project import Projection
from scimhub.schema.project import project
from scimhub.schema.registry import SchemaRegistry
from scimhub.schema.relations import members_attribute
from scimhub.store.base import MemberRow
from scimhub.store.base import Store

CHUNK_ROWS = 1000  # members read at a time: ~190 KB of JSON, about a millisecond of the event loop
PIECE_BYTES = 512 * 1024  # what is sent at a time (after the first chunk, sent at once)


@dataclass(frozen=True, slots=True)
class GroupStream:
    version: int
    location: str
    pieces: AsyncIterator[bytes]  # the JSON document, in order; empty pieces never


def streams(rtype: ResourceType, projection: Projection) -> bool:
    """Whether a GET is streamed: a resource type with members whose response carries them whole
    (a projection of members' sub-attributes is rendered the ordinary way)."""
    name = members_attribute(rtype)
    if name is None:
        return False
    key = ("", name.casefold())
    attribute = rtype.schema.attribute(name)
    assert attribute is not None
    return projection.includes(attribute) and projection.requested.get(key) is None and key not in projection.excluded


@asynccontextmanager
async def open_group_stream(
    store: Store,
    registry: SchemaRegistry,
    ctx: RequestContext,
    rtype: ResourceType,
    id: str,
    projection: Projection,
    chunk: int | None = None,
) -> AsyncIterator[GroupStream]:
    """The group's stream; its snapshot stays open until the context ends (NotFound if absent)."""
    async with store.group_members(ctx.tenant_id, rtype.id, id, chunk or CHUNK_ROWS) as found:
        if found is None:
            raise NotFound(f"{rtype.name} {id} not found.")
        full = render(found.group, rtype, registry, ctx.base_url)
        where = full["meta"]["location"]
        doc = dict(project(full, rtype, registry.common, projection))
        meta = doc.pop("meta", None)  # members go before it, where render() puts them
        refs = _ref_prefixes(registry, ctx.base_url)
        yield GroupStream(found.group.version, where, _pieces(doc, meta, found.chunks, refs))


def _ref_prefixes(registry: SchemaRegistry, base_url: str) -> dict[str, str]:
    """Member type -> the start of its ``$ref`` (``render._member``'s, computed once a response)."""
    prefixes = _RefPrefixes({name: location(base_url, rt, "") for name, rt in registry.resource_types.items()})
    prefixes.default = location(base_url, registry.resource_type("Group"), "")
    return prefixes


class _RefPrefixes(dict[str, str]):
    """As ``render._member``: a type the registry does not know refers to a Group."""

    default = ""

    def __missing__(self, key: str) -> str:
        return self.default


async def _pieces(
    doc: dict[str, object],
    meta: object,
    chunks: AsyncIterator[Sequence[MemberRow]],
    refs: dict[str, str],
) -> AsyncIterator[bytes]:
    tail = b"}" if meta is None else b',"meta":' + orjson.dumps(meta) + b"}"
    head = orjson.dumps(doc)[:-1]
    first = await anext(chunks, None)
    if first is None:  # no members: RFC 7643 leaves the attribute out, as render() does
        yield head + (tail if len(head) > 1 else tail.lstrip(b","))
        return
    yield head + (b',"members":[' if len(head) > 1 else b'"members":[') + _members(first, refs)
    # Then pieces of PIECE_BYTES or so: each send past the transport's high-water mark waits for
    # the client to drain it, and that round trip costs more than the bytes on a loaded machine.
    pending: list[bytes] = []
    size = 0
    async for rows in chunks:
        pending.append(b"," + _members(rows, refs))
        size += len(pending[-1])
        if size >= PIECE_BYTES:
            yield b"".join(pending)
            pending, size = [], 0
    pending.append(b"]" + tail)
    yield b"".join(pending)


def _members(rows: Sequence[MemberRow], refs: dict[str, str]) -> bytes:
    """RFC 7643 §4.2 members, as ``render._member`` makes them (display left out when unknown)."""
    items = [
        {"value": value, "$ref": refs[kind] + value, "type": kind, "display": display}
        if display is not None
        else {"value": value, "$ref": refs[kind] + value, "type": kind}
        for value, kind, display in rows
    ]
    return orjson.dumps(items)[1:-1]
