"""What a request made the server do beyond a plain request, for cost-weighted rate limits.

The rate-limit middleware opens a ``Workload`` for each request it admits (``Metered``); the
layers that do expensive work add to it (``record_scan``, ``record_body``) and the middleware
charges the tenant for it afterwards. Outside a metered request the records are dropped.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from dataclasses import dataclass

# One unit per millisecond a scanning query (a filter or sort no index answers) ran: a plain
# request costs the server about a third of a millisecond and is charged one unit.
SCAN_SECONDS_PER_UNIT = 0.001
# One unit per 2 KiB of request body beyond the first 16 KiB: a write's work grows with its size
# (a group create with 20,000 members, 980 kB, took 0.69 s on SQLite: ~1.4 kB per millisecond),
# and IdPs' creates and PATCHes are a few hundred bytes.
FREE_BODY_BYTES = 16 * 1024
BODY_BYTES_PER_UNIT = 2 * 1024


@dataclass(slots=True)
class Workload:
    scan_seconds: float = 0.0
    body_bytes: int = 0

    def extra_units(self) -> int:
        """Rate-limit units to charge beyond the one unit every request costs."""
        if not self.scan_seconds and self.body_bytes <= FREE_BODY_BYTES:
            return 0  # nearly every request
        scans = math.ceil(self.scan_seconds / SCAN_SECONDS_PER_UNIT)
        body = math.ceil(max(0, self.body_bytes - FREE_BODY_BYTES) / BODY_BYTES_PER_UNIT)
        return scans + body


_CURRENT: ContextVar[Workload | None] = ContextVar("scimhub_workload", default=None)


class Metered:
    """The work of the code run inside (this task and the tasks it starts). A class, not
    @contextmanager: it wraps every rate-limited request."""

    __slots__ = ("_token", "workload")

    def __init__(self) -> None:
        self.workload = Workload()

    def __enter__(self) -> Workload:
        self._token = _CURRENT.set(self.workload)
        return self.workload

    def __exit__(self, *_exc: object) -> None:
        _CURRENT.reset(self._token)


def record_scan(seconds: float) -> None:
    workload = _CURRENT.get()
    if workload is not None:
        workload.scan_seconds += seconds


def record_body(size: int) -> None:
    workload = _CURRENT.get()
    if workload is not None:
        workload.body_bytes += size
