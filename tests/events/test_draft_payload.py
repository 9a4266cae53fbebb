"""An event draft's payload and its JSON text are made once (a bulk request makes them before its
unit of work), and a draft copied with ``dataclasses.replace`` (a write's shared ``txn``) makes
its own."""

from __future__ import annotations

from dataclasses import replace

import orjson

from scimhub.events.model import Change
from scimhub.events.model import EventDraft
from scimhub.events.model import EventType


def draft() -> EventDraft:
    return EventDraft(
        id="e1",
        type=EventType.USER_CREATED,
        resource_type="User",
        resource_id="u1",
        occurred_at="2026-12-07T20:00:00.000Z",
        token_id=None,
        changes=(Change("userName", None, "bjensen"),),
        resource={"id": "u1", "userName": "bjensen"},
        method="POST",
    )


def test_the_payload_text_is_the_payload_as_json() -> None:
    made = draft()

    assert orjson.loads(made.payload_text()) == made.payload()
    assert made.payload()["rfc9967"] == {
        "uri": "urn:ietf:params:scim:event:prov:create:notice",
        "attributes": ["userName"],
        "txn": "e1",
    }


def test_the_payload_and_its_text_are_made_once() -> None:
    made = draft()

    assert made.payload() is made.payload()
    assert made.payload_text() is made.payload_text()
    assert made.payload_text() is made.payload_text()


def test_a_replaced_draft_makes_its_own_payload() -> None:
    made = draft()
    made.payload_text()

    shared = replace(made, txn="t0")

    assert shared.payload()["rfc9967"]["txn"] == "t0"
    assert orjson.loads(shared.payload_text())["rfc9967"]["txn"] == "t0"
    assert made.payload()["rfc9967"]["txn"] == "e1"


def test_drafts_compare_by_their_fields_not_by_what_they_made() -> None:
    made, other = draft(), draft()
    made.payload_text()

    assert made == other
