"""Prometheus gauges of the safety rails, read from the database at scrape time (every instance
reports the shared truth): each tenant's sync state, and whether its event stream is held."""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

from scimhub.safety.health import STATES
from scimhub.safety.hold import Hold

# tenant id → (sync state, the hold or None)
SafetyStats = dict[str, tuple[str, Hold | None]]


class SafetyCollector:
    def __init__(self, stats: Callable[[], Awaitable[SafetyStats]]) -> None:
        self.stats = stats
        self.latest: SafetyStats = {}

    async def refresh(self) -> None:
        self.latest = await self.stats()

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        state = GaugeMetricFamily(
            "scimhub_tenant_sync_state",
            "1 for a tenant's sync state (never_connected, connected, idle, failing, held, paused), 0 for the others",
            labels=["tenant", "state"],
        )
        held = GaugeMetricFamily(
            "scimhub_tenant_held",
            "1 while a tenant's event stream is held (by the deprovisioning guard or paused), else 0",
            labels=["tenant", "kind"],
        )
        held_from = GaugeMetricFamily(
            "scimhub_tenant_held_from_seq", "The first event held back, while a tenant is held", labels=["tenant"]
        )
        for tenant, (current, hold) in sorted(self.latest.items()):
            for name in STATES:
                state.add_metric([tenant, name.value], 1.0 if name.value == current else 0.0)
            held.add_metric([tenant, hold.kind.value if hold else ""], 1.0 if hold else 0.0)
            if hold is not None:
                held_from.add_metric([tenant], hold.from_seq)
        yield state
        yield held
        yield held_from
