"""Sign-in throttling: at most ``attempts`` failed sign-ins per client address per ``window``.

In process memory (each instance counts its own: a guesser spread over N instances gets N times
the budget, still hopeless against a 256-bit token); bounded to ``max_clients`` addresses.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

ATTEMPTS = 5
WINDOW_SECONDS = 60.0
MAX_CLIENTS = 10_000


class SignInThrottle:
    def __init__(
        self,
        attempts: int = ATTEMPTS,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self.max_clients = max_clients
        self._failures: dict[str, list[float]] = {}

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again (0: now)."""
        recent = self._recent(client)
        if len(recent) < self.attempts:
            return 0
        return max(1, math.ceil(recent[0] + self.window - self.clock()))

    def failed(self, client: str) -> None:
        if client not in self._failures and len(self._failures) >= self.max_clients:
            self._evict()
        self._failures[client] = [*self._recent(client), self.clock()]

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def _recent(self, client: str) -> list[float]:
        since = self.clock() - self.window
        return [t for t in self._failures.get(client, ()) if t > since][-self.attempts :]

    def _evict(self) -> None:
        since = self.clock() - self.window
        for key in [k for k, times in self._failures.items() if not times or times[-1] <= since]:
            del self._failures[key]
        while len(self._failures) >= self.max_clients:  # all recent: drop the oldest entries
            del self._failures[next(iter(self._failures))]
