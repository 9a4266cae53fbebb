"""The one timestamp format stored and served: UTC, millisecond precision, ``Z`` suffix.

Fixed width, so string order is time order in every database.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime


def format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    return format_instant(datetime.now(UTC))


def normalise_instant(text: str) -> str:
    """Any xsd:dateTime → the stored format (a value without zone is taken as UTC)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_instant(moment)
