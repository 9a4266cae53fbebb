"""RFC 8936 poll delivery: the request's members checked, acks applied, SETs handed out.

A poll stream's cursor is its ``delivered_seq``: every SET at or below it was acknowledged.
Acks may come in any order (kept in ``set_acks`` until the run below them is complete); a SET
handed out and not acknowledged is handed out again by the next poll (§2.4: the receiver
acknowledges what it has stored). ``setErrs`` count as acknowledged (the receiver will never
accept that SET) and are written to the stream's delivery log with their ``err`` (§2.4.2).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from dataclasses import replace
from typing import Any

from scimhub.schema.model import JsonDoc
from scimhub.sets.claims import seq_of
from scimhub.sets.signer import SetSigner
from scimhub.store.sets_sql import Stream
from scimhub.timestamps import format_instant

DEFAULT_MAX_EVENTS = 100  # when the request names none (RFC 8936 §2.1: the transmitter's choice)
MAX_EVENTS = 1000
RECHECK_SECONDS = 1.0  # a long poll looks again at least this often (other processes' commits)
_MEMBERS = frozenset({"ack", "setErrs", "maxEvents", "returnImmediately"})


class PollError(ValueError):
    """A malformed poll request: 400 with ``{"err": "invalid_request", "description": …}``."""


@dataclass(frozen=True, slots=True)
class PollRequest:
    acks: dict[int, str | None]  # seq → None (acknowledged) or the receiver's error
    max_events: int
    return_immediately: bool


def parse_request(stream_id: str, body: Any) -> PollRequest:
    """The members of RFC 8936 §2.1; a jti this stream never issued is ignored."""
    if not isinstance(body, dict):
        raise PollError("The poll request must be a JSON object.")
    unknown = sorted(set(body) - _MEMBERS)
    if unknown:
        raise PollError(f"Unknown poll request member(s): {', '.join(unknown)}.")
    max_events = body.get("maxEvents", DEFAULT_MAX_EVENTS)
    if not isinstance(max_events, int) or isinstance(max_events, bool) or not 0 <= max_events <= MAX_EVENTS:
        raise PollError(f"maxEvents must be an integer from 0 to {MAX_EVENTS}.")
    immediately = body.get("returnImmediately", False)
    if not isinstance(immediately, bool):
        raise PollError("returnImmediately must be true or false.")
    return PollRequest(_acks(stream_id, body), max_events, immediately)


def _acks(stream_id: str, body: dict[str, Any]) -> dict[int, str | None]:
    ack, errors = body.get("ack", []), body.get("setErrs", {})
    if not isinstance(ack, list) or not all(isinstance(j, str) for j in ack):
        raise PollError("ack must be an array of jti strings.")
    if not isinstance(errors, dict) or not all(_is_set_error(e) for e in errors.values()):
        raise PollError('setErrs must map each jti to {"err": "...", "description": "..."}.')
    found: dict[int, str | None] = {}
    for token_id, error in errors.items():
        if (seq := seq_of(stream_id, token_id)) is not None:
            found[seq] = f"{error['err']}: {error.get('description', '')}".strip().rstrip(":")[:300]
    for token_id in ack:
        if (seq := seq_of(stream_id, token_id)) is not None:
            found[seq] = None
    return found


def _is_set_error(error: Any) -> bool:
    return (
        isinstance(error, dict) and isinstance(error.get("err"), str) and isinstance(error.get("description", ""), str)
    )


class CommitSignal:
    """Wakes long polls when this process commits events (other processes': RECHECK_SECONDS)."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None  # made by the first waiter: a commit with none costs nothing
        self.closed = False  # the server is stopping: long polls answer now

    def open(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self.notify()

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self, seconds: float) -> None:
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            pass


async def poll(
    signer: SetSigner,
    stream: Stream,
    request: PollRequest,
    *,
    wait_seconds: float,
    signal: CommitSignal,
) -> JsonDoc:
    """Apply the acks, then the unacknowledged SETs (up to maxEvents), waiting for some up to
    ``wait_seconds`` unless ``returnImmediately`` (RFC 8936 §2.1 long polling)."""
    store = signer.streams
    if request.acks:
        cursor = await store.acknowledge(stream, request.acks, format_instant(signer.clock()))
        stream = replace(stream, delivered_seq=cursor)
    if request.max_events == 0:
        return {"sets": {}, "moreAvailable": False}
    deadline = time.monotonic() + (0.0 if request.return_immediately else wait_seconds)
    while True:
        found, more = await store.unacked(stream, request.max_events)
        left = deadline - time.monotonic()
        if found or left <= 0 or signal.closed:
            break
        await signal.wait(min(left, RECHECK_SECONDS))
    return {"sets": await signer.sign(stream, found), "moreAvailable": more}
