"""Short texts for the console's tables (pure)."""

from __future__ import annotations

from typing import Any

import orjson

MAX_VALUE = 40
MAX_CHANGES = 3


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= MAX_VALUE else f"{text[: MAX_VALUE - 1]}…"


def event_summary(payload: dict[str, Any]) -> str:
    """``active: true → false; title: "A" → "B"``, or ``roles: [] → ["admin"]``, or ``3 members``,
    or the resource's name."""
    parts = []
    for change in payload.get("changes", [])[:MAX_CHANGES]:
        if isinstance(change, dict):
            before, after = change.get("before"), change.get("after")
            parts.append(f"{change.get('path')}: {_value(before)} → {_value(after)}")
    more = len(payload.get("changes", [])) - MAX_CHANGES
    if more > 0:
        parts.append(f"and {more} more")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    assert isinstance(data, dict)
    before, after = data.get("before"), data.get("after")
    if isinstance(before, list) and isinstance(after, list):  # user.roles_changed's data
        parts.append(f"roles: {_value(before)} → {_value(after)}")
    members = payload.get("members")
    if isinstance(members, list) and members:
        parts.append(f"{len(members)} member{'' if len(members) == 1 else 's'}")
    if not parts:
        resource = payload.get("resource")
        if isinstance(resource, dict):
            name = resource.get("userName") or resource.get("displayName")
            if name:
                parts.append(str(name))
    return "; ".join(parts)


def resource_ref(payload: dict[str, Any]) -> str:
    """``User 3f1c2a9e…``: the type and the start of the id (the link holds all of it)."""
    return f"{payload.get('resourceType', '')} {str(payload.get('resourceId', ''))[:8]}…".strip()


def pretty_json(text: str | None) -> str:
    """A logged body indented when it is whole JSON; as it was otherwise (cut, or not JSON)."""
    if not text:
        return ""
    try:
        return orjson.dumps(orjson.loads(text), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        return text
