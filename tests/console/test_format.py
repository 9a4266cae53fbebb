"""The console's short texts (pure)."""

from __future__ import annotations

from scimhub.console.format import event_summary
from scimhub.console.format import pretty_json
from scimhub.console.format import resource_ref


def test_event_summary_of_changes_members_and_a_bare_resource() -> None:
    changes = [{"path": "active", "before": True, "after": False}, {"path": "title", "before": None, "after": "CTO"}]
    assert event_summary({"changes": changes}) == "active: true → false; title: null → CTO"
    many = [{"path": f"a{i}", "before": 1, "after": 2} for i in range(5)]
    assert event_summary({"changes": many}).endswith("; and 2 more")
    assert event_summary({"changes": [], "members": ["u1", "u2"]}) == "2 members"
    assert event_summary({"resource": {"userName": "ada"}}) == "ada"
    long = event_summary({"changes": [{"path": "x", "before": None, "after": "y" * 100}]})
    assert long.endswith("…") and len(long) < 60


def test_pretty_json_indents_whole_json_and_keeps_anything_else() -> None:
    assert pretty_json('{"a":[1]}') == '{\n  "a": [\n    1\n  ]\n}'
    assert pretty_json('{"cut": "after 16 Ki') == '{"cut": "after 16 Ki'
    assert pretty_json(None) == ""


def test_resource_ref_shortens_the_id() -> None:
    assert resource_ref({"resourceType": "User", "resourceId": "0123456789abcdef"}) == "User 01234567…"


def test_event_summary_of_a_roles_change() -> None:
    data = {"id": "u1", "userName": "ada@example.com", "before": [], "after": ["admin", "engineer"]}
    summary = event_summary({"type": "user.roles_changed", "changes": [], "data": data})
    assert summary == 'roles: [] → ["admin","engineer"]'
