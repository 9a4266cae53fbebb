"""Resource and event ids: version 7 UUIDs (RFC 9562 §5.7), so that ids made later sort later."""

from __future__ import annotations

import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from scimhub.protocol.resources import new_id
from scimhub.protocol.resources import uuid7


def test_ids_are_version_7_uuids_in_canonical_text() -> None:
    for text in (new_id() for _ in range(2000)):
        parsed = uuid.UUID(text)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text  # lower case, hyphenated: the form SCIM clients echo back


def test_the_first_48_bits_are_the_creation_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(new_id()).int >> 80
    after = time.time_ns() // 1_000_000
    assert before <= made <= after


def test_ids_of_later_milliseconds_sort_after_earlier_ones_and_never_repeat() -> None:
    ids = []
    for _ in range(5):
        ids.append(new_id())
        time.sleep(0.002)
    assert ids == sorted(ids)
    assert len({new_id() for _ in range(50_000)}) == 50_000  # 74 random bits within a millisecond


@given(st.integers(min_value=0, max_value=2**48 - 1), st.binary(min_size=10, max_size=10))
def test_the_layout_holds_for_any_time_and_random_bits(ms: int, random_bytes: bytes) -> None:
    parsed = uuid.UUID(uuid7(ms, random_bytes))
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == ms
    # the random bits: 12 after the version, 62 after the variant
    expected = int.from_bytes(random_bytes, "big")
    assert (parsed.int >> 64) & 0xFFF == (expected >> 64) & 0xFFF
    assert parsed.int & (2**62 - 1) == expected & (2**62 - 1)
