"""The pure mapping from an outbox event to SET claims (scimhub.sets.claims)."""

from __future__ import annotations

from scimhub.events.model import Event
from scimhub.sets.claims import EVENT_URIS
from scimhub.sets.claims import Audience
from scimhub.sets.claims import seq_of
from scimhub.sets.claims import set_claims
from scimhub.sets.keys import new_private_jwk

ENDPOINTS = {"User": "/Users", "Group": "/Groups"}
NOTICE = Audience("s1", "https://scim.example.com/scim/v2", "aud", full=False)
FULL = Audience("s1", "https://scim.example.com/scim/v2", "aud", full=True)


def event(seq: int, **payload: object) -> Event:
    body = {"resourceType": "Group", "resourceId": "g1", "occurredAt": "2026-12-07T09:00:00.000Z", **payload}
    return Event("t1", seq, f"e{seq}", str(payload["type"]), body)


def test_jti_round_trips_for_its_stream_only() -> None:
    claims = set_claims(event(7, type="group.deleted"), NOTICE, ENDPOINTS, 0)

    assert claims["jti"] == "s1.7"
    assert seq_of("s1", "s1.7") == 7
    assert seq_of("s2", "s1.7") is None  # another stream's SET
    assert seq_of("s1", "s1.x") is None
    assert seq_of("s1", "s1.-1") is None
    assert seq_of("s1", "s1." + "9" * 19) is None


def test_an_event_from_before_txn_was_recorded_uses_its_own_id() -> None:
    claims = set_claims(event(3, type="group.deleted", rfc9967={"uri": "x", "attributes": []}), NOTICE, ENDPOINTS, 0)

    assert claims["txn"] == "e3"
    assert claims["toe"] == 1796634000
    assert claims["sub_id"] == {"format": "scim", "uri": "/Groups/g1", "id": "g1"}


def test_removing_several_members_is_one_remove_operation_each() -> None:
    removed = event(4, type="group.member_removed", members=["u1", "u2"])

    notice = set_claims(removed, NOTICE, ENDPOINTS, 0)["events"]
    full = set_claims(removed, FULL, ENDPOINTS, 0)["events"]

    assert notice == {"urn:ietf:params:scim:event:prov:patch:notice": {"attributes": ["members"]}}
    (payload,) = full.values()
    assert [op["path"] for op in payload["data"]["Operations"]] == ['members[value eq "u1"]', 'members[value eq "u2"]']
    assert "version" not in payload  # a member who was deleted leaves no resource to take it from


def test_every_uri_issued_is_advertised() -> None:
    kinds = ["created", "updated", "deactivated", "reactivated", "deleted", "member_added"]
    issued = set()
    for audience in (NOTICE, FULL):
        for i, kind in enumerate(kinds):
            for uri in ("urn:ietf:params:scim:event:prov:patch:notice", "urn:ietf:params:scim:event:prov:put:notice"):
                made = event(i + 1, type=f"user.{kind}", rfc9967={"uri": uri}, members=["u1"])
                issued |= set(set_claims(made, audience, ENDPOINTS, 0)["events"])
    assert issued == set(EVENT_URIS)


def test_a_kid_is_the_hex_thumbprint_so_a_command_line_never_reads_it_as_an_option() -> None:
    kids = [new_private_jwk()[0] for _ in range(64)]  # base64url kids began with "-" 1 time in 64

    assert all(len(k) == 64 and all(c in "0123456789abcdef" for c in k) for k in kids)
    assert len(set(kids)) == 64
