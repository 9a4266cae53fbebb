"""The README's Events table lists exactly the fields each event type carries: every type is
produced through the real app and its feed payload compared with the table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scimhub import EventType
from tests.conftest import TenantAccess
from tests.events.support import create_group
from tests.events.support import create_user
from tests.events.support import feed
from tests.events.support import patch
from tests.roles.support import map_role

pytestmark = pytest.mark.anyio

README = Path(__file__).parents[2] / "README.md"


def documented() -> tuple[set[str], dict[str, tuple[set[str], set[str]]]]:
    """The fields every event carries, and per type (the other fields, those of them that may be absent)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- event-fields:", 1)[1].split("\n### ", 1)[0]
    common_text = section.split("Every event carries", 1)[1].split("Besides:", 1)[0]
    common = set(re.findall(r"`(\w+)`", re.sub(r"\([^()]*\)", "", common_text)))  # not the (explanations)
    per_type: dict[str, tuple[set[str], set[str]]] = {}
    for row in re.findall(r"^\| (`[a-z_.]+`(?: / `[a-z_.]+`)?) \|(.*)$", section, flags=re.MULTILINE):
        types, cells = re.findall(r"`([a-z_.]+)`", row[0]), row[1].split(" | ")
        other = cells[1]
        fields = set(re.findall(r"(?:^|, |\s)`(\w+)`", other))
        optional = {f for f in fields if re.search(rf"`{f}` \(absent when", other)}
        for event_type in types:
            per_type[event_type] = (fields, optional)
    return common, per_type


def test_the_table_names_every_event_type_and_the_common_fields_parse() -> None:
    common, per_type = documented()
    assert set(per_type) == {t.value for t in EventType}
    assert {"id", "seq", "tenantId", "type", "changes", "tokenId"} <= common
    assert per_type["group.member_removed"] == ({"members", "resource"}, {"resource"})


async def test_every_event_carries_exactly_the_documented_fields(app: object, acme: TenantAccess) -> None:
    client = acme.client
    await map_role(app, "engineer", group="Engineering")  # joining the group changes roles
    alice = await create_user(client, "alice", active=True)
    bob = await create_user(client, "bob")
    group = await create_group(client, "Engineering", [alice])
    await patch(client, f"/Groups/{group}", {"op": "add", "path": "members", "value": [{"value": bob}]})
    await patch(client, f"/Groups/{group}", {"op": "replace", "path": "displayName", "value": "R&D"})
    await patch(client, f"/Groups/{group}", {"op": "remove", "path": f'members[value eq "{bob}"]'})
    await patch(client, f"/Users/{alice}", {"op": "replace", "path": "active", "value": False})
    await patch(client, f"/Users/{alice}", {"op": "replace", "path": "active", "value": True})
    await patch(client, f"/Users/{alice}", {"op": "replace", "path": "title", "value": "Engineer"})
    assert (await client.delete(f"/Users/{alice}")).status_code == 204  # leaves the group: member_removed
    assert (await client.delete(f"/Groups/{group}")).status_code == 204

    events = await feed(app)
    common, per_type = documented()
    assert {e["type"] for e in events} == set(per_type), "every type was produced"
    for event in events:
        fields, optional = per_type[event["type"]]
        keys = set(event)
        assert common <= keys, (event["type"], common - keys)
        assert keys - common <= fields, (event["type"], "undocumented", keys - common - fields)
        assert fields - optional <= keys, (event["type"], "documented but missing", fields - optional - keys)
        assert event["rfc9967"]["attributes"] == [c["path"] for c in event["changes"]]
    created = [e for e in events if e["type"].endswith(".created")]
    assert all(e["changes"] and all(c["before"] is None for c in e["changes"]) for e in created)
    removed = [e for e in events if e["type"] == "group.member_removed"]
    assert ["resource" in e for e in removed] == [True, False], "absent only when a deleted member left"
