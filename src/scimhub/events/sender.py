"""Sender: signs one event (or one batch of events) and POSTs it to a webhook, within one deadline.

Shared by the delivery worker, redelivery, the CLI and the admin API. A webhook that may not
reach private addresses is sent through a client whose connections go to checked public
addresses only (``scimhub.events.destinations``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx2
import orjson

from scimhub.events.batch import batch_body
from scimhub.events.batch import batch_id
from scimhub.events.destinations import PublicOnlyTransport
from scimhub.events.destinations import Resolver
from scimhub.events.destinations import system_resolve
from scimhub.events.model import Event
from scimhub.events.signing import webhook_headers

RESPONSE_BYTES = 64 * 1024  # response body read (and discarded) at most, within the deadline
_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one POST came to: the status (None when no response) or the error, and the latency."""

    status_code: int | None
    error: str | None
    latency_ms: int

    @property
    def ok(self) -> bool:
        """Standard Webhooks: any 2xx acknowledges the message; redirects are not followed."""
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    """Signs and POSTs one event; shared by the worker, redelivery, the CLI and the admin API."""

    def __init__(
        self,
        timeout: float,
        transport: httpx2.AsyncBaseTransport | None = None,
        *,
        resolve: Resolver = system_resolve,
    ) -> None:
        self.timeout = timeout
        self.transport = transport  # tests: one transport for every client (no address checks)
        self.resolve = resolve

    def client(self, *, public_only: bool = False) -> httpx2.AsyncClient:
        """A client for webhooks that may reach any address, or (``public_only``) public ones only."""
        transport = self.transport
        if transport is None and public_only:
            transport = PublicOnlyTransport(self.resolve)
        return httpx2.AsyncClient(timeout=self.timeout, transport=transport, follow_redirects=False)

    async def send(self, client: httpx2.AsyncClient, url: str, secret: str, event: Event) -> SendResult:
        """POST the event JSON with the three Standard Webhooks headers; never raises for I/O.

        The whole attempt, connect to last response byte, has one deadline: httpx's timeouts
        apply per read, so a receiver trickling a byte a second held an attempt indefinitely."""
        return await self.post(client, url, *_signed(secret, event.id, orjson.dumps(event.to_json())))

    async def send_batch(
        self, client: httpx2.AsyncClient, url: str, secret: str, events: Sequence[Event]
    ) -> tuple[SendResult, int]:
        """POST the first events of ``events`` as one signed batch (``scimhub.events.batch``):
        the result, and how many events the request carried (the body's byte cap may stop it)."""
        body, count = batch_body(events)
        return await self.post(client, url, *_signed(secret, batch_id(events[:count]), body)), count

    async def post(self, client: httpx2.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        """POST ``body`` within the one deadline; never raises for I/O (webhooks and SET pushes)."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                status = await _post(client, url, body, headers)
        except TimeoutError:
            late = f"Timeout: no complete response within {self.timeout:g} s (SCIMHUB_WEBHOOK_TIMEOUT_SECONDS)"
            return SendResult(None, late, _ms_since(started))
        except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
            return SendResult(None, f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS], _ms_since(started))
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return SendResult(status, error, _ms_since(started))


def _signed(secret: str, msg_id: str, body: bytes) -> tuple[bytes, dict[str, str]]:
    headers = {
        "content-type": "application/json",
        "user-agent": "scimhub-webhooks",
        **webhook_headers(secret, msg_id, int(time.time()), body),
    }
    return body, headers


async def _post(client: httpx2.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST and read the response to its end (up to RESPONSE_BYTES): an answer counts once it is
    complete, and a fully read connection can be reused."""
    async with client.stream("POST", url, content=body, headers=headers) as response:
        read = 0
        if not response.is_stream_consumed:  # a transport's in-memory response has no stream left
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= RESPONSE_BYTES:
                    break
        return response.status_code


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
