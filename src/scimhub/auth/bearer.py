"""Bearer authentication (RFC 6750): Authorization header → Principal, or 401."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from scimhub.auth.tokens import digest
from scimhub.auth.tokens import well_formed
from scimhub.errors import Unauthorized
from scimhub.protocol.context import Principal
from scimhub.store.base import Store
from scimhub.store.base import TokenRecord

log = logging.getLogger("scimhub.auth")

# last_used_at is written at most once per interval per token, never on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)
# While the server runs (``start``), those writes are batched: one transaction a second for every
# token that needs one, instead of a write transaction in the request of each.
LAST_USED_FLUSH_SECONDS = 1.0
# A remembered token's row is read again at least this often even when the database's count of
# token changes has not moved: a bound on what a change made around the triggers could cost.
MAX_TRUSTED_SECONDS = 60.0
# The verified tokens one process remembers (an IdP uses one token per tenant); past it, the one
# read longest ago is forgotten (its row is read again on its next use).
MAX_REMEMBERED = 10_000


def _parse(value: str | None) -> datetime | None:
    """A stored time; one without an offset (written by hand in SQL) is taken as UTC."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def bearer_token(header: str | None) -> str:
    if not header:
        raise Unauthorized("Missing Authorization header; send 'Authorization: Bearer <token>'.", error="")
    scheme, _, token = header.strip().partition(" ")
    if scheme.casefold() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.", error="invalid_request")
    return token.strip()


@dataclass(slots=True)
class _Known:
    """A token's row as last read, with its dates parsed."""

    principal: Principal
    revoked: bool
    expires: datetime | None
    last_used: datetime | None
    read_at: float  # the authenticator's clock
    token_changes: int  # the store's count of its own token changes when read
    database_changes: int | None  # the database's count, read before the row (None: it keeps none)

    @classmethod
    def of(cls, record: TokenRecord, read_at: float, token_changes: int, database_changes: int | None) -> _Known:
        return cls(
            Principal(record.tenant_id, record.id),
            record.revoked_at is not None,
            _parse(record.expires_at),
            _parse(record.last_used_at),
            read_at,
            token_changes,
            database_changes,
        )


class BearerAuthenticator:
    """Resolves bearer tokens to their tenant; 401 for missing, unknown, revoked or expired ones.

    Verified tokens are remembered (keyed by their digest, never the secret): reading a token's
    row was a fifth of an existence check's CPU. A token revoked, re-dated or deleted through this
    process's store is refused on its next request (the store counts its own token changes).
    Through another process (the CLI, another instance) it is refused within ``recheck_seconds``:
    the database counts every such change (triggers on ``tokens``), and that one count is read at
    most every ``recheck_seconds`` for all tokens; a remembered token is reread when it moved,
    and at least every ``MAX_TRUSTED_SECONDS`` whatever it says. A database without the count
    (``token_change_count`` None) has each remembered token reread every ``recheck_seconds``, as
    before the count; 0 reads the row on every request. Expiry is checked on every request.

    ``last_used_at`` moves at most once a ``LAST_USED_RESOLUTION`` per token. Between ``start``
    and ``stop`` (the app's lifespan) those writes wait up to ``flush_seconds`` and go in one
    transaction (with 10,000 quiet tenants, a write in the request of each was the largest cost
    of spreading the same requests over them); ``stop`` writes what is left. Without ``start``
    each is written in the request, as before.
    """

    def __init__(
        self,
        store: Store,
        pepper: str | None,
        recheck_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_remembered: int = MAX_REMEMBERED,
        flush_seconds: float = LAST_USED_FLUSH_SECONDS,
    ) -> None:
        self.store = store
        self.pepper = pepper
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        self.max_remembered = max_remembered
        self.flush_seconds = flush_seconds
        self._known: dict[str, _Known] = {}
        self._touches: dict[str, str] = {}  # token id -> last_used_at not written yet
        self._counted: int | None = None  # the database's count of token changes, as last polled
        self._polled_at = -math.inf  # the clock when that poll began
        self._flusher: asyncio.Task[None] | None = None

    async def authenticate(self, header: str | None, now: datetime | None = None) -> Principal:
        token = bearer_token(header)
        key = digest(token, self.pepper)
        tick = self.clock()
        changes = self.store.token_changes
        known = self._known.get(key)
        if not self.recheck_seconds > 0:  # 0 (or a value that is not a number): every request
            known = await self._read(token, key, tick, changes, None)
        else:
            counted = await self._database_changes(tick)  # before the row: a change after it moves it
            if known is None or not self._trusted(known, tick, changes, counted):
                known = await self._read(token, key, tick, changes, counted)
        now = now or datetime.now(UTC)
        if known.revoked:
            raise Unauthorized("The bearer token has been revoked.")
        if known.expires is not None and known.expires <= now:
            raise Unauthorized("The bearer token has expired.")
        if known.last_used is None or now - known.last_used >= LAST_USED_RESOLUTION:
            when = now.isoformat(timespec="seconds")
            if self._flusher is None:
                await self.store.touch_token(known.principal.token_id, when)
            else:
                self._touches[known.principal.token_id] = when
            known.last_used = now
        return known.principal

    def start(self) -> None:
        """Batch the last-use writes from now on (call ``stop`` before the store closes)."""
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_every(), name="scimhub-token-last-use")

    async def stop(self) -> None:
        """Write the waiting last-use times; later ones are written in their request again."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        await self.flush()

    async def flush(self) -> None:
        touches, self._touches = self._touches, {}
        if not touches:
            return
        try:
            await self.store.touch_tokens(sorted(touches.items()))
        except BaseException:
            for token_id, when in touches.items():  # the next flush tries again (a newer time wins)
                self._touches.setdefault(token_id, when)
            raise

    @property
    def waiting(self) -> int:
        """Last-use times not written yet."""
        return len(self._touches)

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            try:
                await self.flush()
            except Exception:  # a lost last-use time must never stop the server; retried next time
                log.exception("could not record the tokens' last use")

    def _trusted(self, known: _Known, tick: float, changes: int, counted: int | None) -> bool:
        """Whether a remembered token's row may answer without being read again."""
        if known.token_changes != changes:
            return False
        age = tick - known.read_at
        if counted is None or known.database_changes is None:  # no count: each token by time
            return age < self.recheck_seconds
        return counted == known.database_changes and age < MAX_TRUSTED_SECONDS

    async def _database_changes(self, tick: float) -> int | None:
        """The database's count of token changes, read at most every ``recheck_seconds``."""
        if tick - self._polled_at < self.recheck_seconds:
            return self._counted
        counted = await self.store.token_change_count()
        if tick >= self._polled_at:  # of two polls in flight, the one begun later is kept
            self._counted, self._polled_at = counted, tick
        return counted

    async def _read(self, token: str, key: str, tick: float, changes: int, counted: int | None) -> _Known:
        remembered = self._known
        remembered.pop(key, None)
        if not well_formed(token):
            raise Unauthorized("The bearer token is not valid.")
        record = await self.store.token_by_digest(key)
        if record is None:
            raise Unauthorized("The bearer token is not valid.")
        while len(remembered) >= self.max_remembered:  # read order: the first was read longest ago
            del remembered[next(iter(remembered))]
        known = remembered[key] = _Known.of(record, tick, changes, counted)
        return known

    def __len__(self) -> int:
        return len(self._known)


async def authenticate(store: Store, header: str | None, pepper: str | None, now: datetime | None = None) -> Principal:
    """One check that reads the token's row (no memory of earlier checks)."""
    return await BearerAuthenticator(store, pepper, recheck_seconds=0).authenticate(header, now)
