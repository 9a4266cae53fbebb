"""Opaque, tamper-proof cursors for RFC 9865 pagination.

A cursor is the keyset of a boundary row, the query it belongs to (a hash of filter and
sort), the page size and the time it was issued, signed with HMAC-SHA256. It holds no
server state, so any instance that shares the database secret can continue the walk.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

import orjson

from scimhub.errors import ExpiredCursor
from scimhub.errors import InvalidCount
from scimhub.errors import InvalidCursor
from scimhub.store.base import Keyset

CURSOR_TIMEOUT = 24 * 3600  # seconds a cursor stays valid (advertised as pagination.cursorTimeout)
_SIGNATURE_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def query_fingerprint(*parts: str | None) -> str:
    """Identifies the query a cursor continues: same tenant, type, filter and sort."""
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CursorCodec:
    secret: bytes
    timeout: int = CURSOR_TIMEOUT
    clock: Callable[[], float] = field(default=time.time)

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self.secret, payload.encode(), hashlib.sha256).digest()
        return _b64(digest[:_SIGNATURE_BYTES])

    def encode(self, fingerprint: str, count: int, key: Keyset) -> str:
        body = [1, fingerprint, count, key.value, key.pk, int(key.before), int(self.clock())]
        payload = _b64(orjson.dumps(body))
        return f"{payload}.{self._sign(payload)}"

    def decode(self, token: str, fingerprint: str, count: int) -> Keyset:
        """The keyset a cursor names; invalidCursor / expiredCursor / invalidCount otherwise."""
        payload, _, signature = token.partition(".")
        if not signature or not token.isascii() or not hmac.compare_digest(self._sign(payload), signature):
            raise InvalidCursor("The cursor is not one this server issued, or it was altered.")
        try:
            version, fp, first_count, value, pk, before, issued = orjson.loads(_unb64(payload))
        except (ValueError, TypeError):
            raise InvalidCursor() from None
        if version != 1 or fp != fingerprint:
            raise InvalidCursor("The cursor belongs to a different query (filter or sort changed).")
        if count != first_count:
            raise InvalidCount(f"count must stay {first_count}, the count of the query's first page.")
        if self.clock() - issued > self.timeout:
            raise ExpiredCursor(f"The cursor is older than {self.timeout} seconds; restart the query.")
        return Keyset(value, int(pk), bool(before))
