"""Opt-in batch delivery: several events of one webhook in one signed request, in seq order.

Standard Webhooks sends one message a request. A webhook added with ``batch`` > 1 gets up to that
many of its pending events in one POST instead, still signed as one Standard Webhooks message::

    webhook-id: batch_<id of the first event>_<seq of the last>
    body: {"type": "batch", "events": [<event>, <event>, ...]}

Each element is exactly the body a one-event request would carry (``Event.to_json()``), in seq
order. The request is accepted or refused as a whole: a 2xx acknowledges every event in it; a
failure retries the batch from its first event. Receivers verify the signature over the whole
body with any Standard Webhooks library and de-duplicate on each event's ``id`` (a retry can
start the same way and carry more events, so its ``webhook-id`` can differ).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from scimhub.events.model import Event

BATCH_TYPE = "batch"
MAX_BATCH = 1000  # events a webhook's batch may be set to at most
BATCH_BYTES = 1024 * 1024  # a batch body stops before it would exceed this (one event at least)
_OPEN = b'{"type":"' + BATCH_TYPE.encode() + b'","events":['
_CLOSE = b"]}"


def check_batch(batch: int) -> int:
    """A webhook's batch size: 1 (one event a request) to MAX_BATCH."""
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise ValueError(f"batch must be an integer from 1 (one event a request) to {MAX_BATCH}, got {batch!r}.")
    return batch


def batch_id(events: Sequence[Event]) -> str:
    """The batch's ``webhook-id``: stable for the same events, unique across batches."""
    return f"batch_{events[0].id}_{events[-1].seq}"


def batch_body(events: Sequence[Event], max_bytes: int = BATCH_BYTES) -> tuple[bytes, int]:
    """The body of a batch of the first events of ``events`` (in order), and how many it holds:
    all of them, or as many as fit in ``max_bytes`` (the first one whatever its size)."""
    parts: list[bytes] = []
    size = len(_OPEN) + len(_CLOSE)
    for event in events:
        part = orjson.dumps(event.to_json())
        if parts and size + len(part) + 1 > max_bytes:
            break
        parts.append(part)
        size += len(part) + 1
    return _OPEN + b",".join(parts) + _CLOSE, len(parts)
