"""``attr eq "value"`` bound without the parser: the IdPs' existence check, on every sync.

Okta and Entra ask ``userName eq "…"`` (or ``externalId``/``displayName``/``emails.value``) before
each create: lexing, parsing and binding it cost more than the index probe that answers it. A
filter of exactly that shape (a plain attribute path, ``eq``, a JSON string without escapes) is
bound here from a per-attribute template; anything else, or any attribute the template does
not bind as a string comparison, returns None and takes the full parser (which also makes every
error message).
"""

from __future__ import annotations

import re

from scimhub.errors import InvalidFilter
from scimhub.filter.ast import CompareOp
from scimhub.filter.bind import BCompare
from scimhub.filter.bind import bind_filter
from scimhub.filter.parser import parse_filter
from scimhub.policy import Policy
from scimhub.schema.model import AttrType
from scimhub.schema.model import ResourceType
from scimhub.schema.model import Schema
from scimhub.schema.paths import BoundPath

_WS = r"[ \t\r\n]"
# The lexer's string without escapes, control characters or surrogates: its text is its value.
_EQ = re.compile(
    rf"{_WS}*([A-Za-z][A-Za-z0-9_\-]*(?:\.[A-Za-z][A-Za-z0-9_\-]*)?){_WS}+[eE][qQ]{_WS}+"
    rf'"([^"\\\x00-\x1f\ud800-\udfff]*)"{_WS}*'
)
_NOT_STRINGS = (AttrType.BOOLEAN, AttrType.INTEGER, AttrType.DECIMAL)
_CACHE_SIZE = 1024
_Key = tuple[int, int, int, str]
_paths: dict[_Key, tuple[ResourceType, Schema, Policy, BoundPath | None]] = {}


def quick_eq(text: str, rtype: ResourceType, common: Schema, policy: Policy) -> BCompare | None:
    """The bound filter ``bind_filter(parse_filter(text), …)`` would make, or None (not this shape)."""
    match = _EQ.fullmatch(text)
    if match is None:
        return None
    path = _path(rtype, common, policy, match.group(1))
    return None if path is None else BCompare(path, CompareOp.EQ, match.group(2))


def _path(rtype: ResourceType, common: Schema, policy: Policy, name: str) -> BoundPath | None:
    key = (id(rtype), id(common), id(policy), name)
    found = _paths.get(key)
    # Keyed by identity (registries and policies are long-lived); the entry holds them, so an id
    # is never reused while its entry exists, and it is checked anyway.
    if found is not None and found[0] is rtype and found[1] is common and found[2] is policy:
        return found[3]
    if len(_paths) >= _CACHE_SIZE:
        _paths.clear()
    path = _template_path(rtype, common, policy, name)
    _paths[key] = (rtype, common, policy, path)
    return path


def _template_path(rtype: ResourceType, common: Schema, policy: Policy, name: str) -> BoundPath | None:
    """The path ``name eq ""`` binds to when it is a string comparison, else None."""
    text = f'{name} eq ""'
    try:
        bound = bind_filter(parse_filter(text), rtype, common, text, policy)
    except InvalidFilter:
        return None
    if not isinstance(bound, BCompare) or bound.value != "" or bound.path.leaf.type in _NOT_STRINGS:
        return None
    return bound.path
