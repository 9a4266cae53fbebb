"""The stored timestamp format, and the fast clock that makes it."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime

import pytest

from scimhub import timestamps
from scimhub.timestamps import format_instant
from scimhub.timestamps import normalise_instant
from scimhub.timestamps import utc_now

STORED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_utc_now_is_the_stored_format_of_the_current_time() -> None:
    before = format_instant(datetime.now(UTC))
    now = utc_now()
    after = format_instant(datetime.now(UTC))
    assert STORED.match(now)
    assert before <= now <= after


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_790_000_000.9996, "2026-09-21T14:13:20.999Z"),  # milliseconds are cut, never rounded up
        (1_790_000_001.0005, "2026-09-21T14:13:21.000Z"),  # the next second: its own text
        (1_790_000_000.25, "2026-09-21T14:13:20.250Z"),  # an earlier second again
    ],
)
def test_utc_now_at_given_clock_readings(monkeypatch: pytest.MonkeyPatch, clock: float, expected: str) -> None:
    monkeypatch.setattr(timestamps.time, "time", lambda: clock)
    assert utc_now() == expected
    assert utc_now() == format_instant(datetime.fromtimestamp(clock, UTC))


def test_utc_now_never_goes_backwards_within_a_run() -> None:
    readings = [utc_now() for _ in range(20_000)]
    assert readings == sorted(readings)


def test_normalise_instant_takes_any_zone_to_utc() -> None:
    assert normalise_instant("2026-01-02T03:04:05+02:00") == "2026-01-02T01:04:05.000Z"
    assert normalise_instant("2026-01-02T03:04:05.123456") == "2026-01-02T03:04:05.123Z"
