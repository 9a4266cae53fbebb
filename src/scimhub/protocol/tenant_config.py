"""Per-tenant configuration: IdP leniency switches, the rate limit (over the global defaults) and
the tenant's declared extension schemas.

Operators set them with ``scimhub tenant set``; the server caches them for ``ttl`` seconds, so
a change is in force on every instance within that bound (documented in the README).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from dataclasses import replace

from scimhub.policy import Policy
from scimhub.safety import guard as guard_rules
from scimhub.safety import inactive
from scimhub.safety.guard import GuardRule
from scimhub.schema.registry import SchemaRegistry
from scimhub.schema.registry import default_registry
from scimhub.schema.registry import tenant_registry
from scimhub.store.base import Store

POLICY_PREFIX = "policy."
RATE_LIMIT_KEY = "rate_limit"
CACHE_SECONDS = 10.0
# Tenants whose config one process remembers (the least recently refreshed leave first). A config
# is needed again only once its ``ttl`` passed, so the bound costs at most a reread.
MAX_CACHED = 10_000
# The most tenants with settings or schemas one read lists (see ``TenantConfigCache``); past it,
# every tenant's config is read on its own.
MAX_LISTED = 2_000


def setting_keys() -> list[str]:
    return [f"{POLICY_PREFIX}{f.name}" for f in fields(Policy)] + [RATE_LIMIT_KEY, *SAFETY_KEYS]


SAFETY_KEYS = (guard_rules.THRESHOLD_KEY, guard_rules.WINDOW_KEY, inactive.KEY)


def check_setting(key: str, value: str) -> str:
    """Normalise a value for ``key``; ValueError with a message an operator can act on."""
    if key.startswith(POLICY_PREFIX) and key in setting_keys():
        if value.lower() not in ("on", "off", "true", "false"):
            raise ValueError(f"{key} takes on or off, not {value!r}.")
        return "on" if value.lower() in ("on", "true") else "off"
    if key == RATE_LIMIT_KEY:
        if value.lower() == "off":
            return "off"
        from limits import parse_many  # here: importing `limits` costs ~90 ms, and only `tenant set` checks

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit such as 600/minute or 20/second;1000/hour.") from None
        return value
    if key == guard_rules.THRESHOLD_KEY:
        return "off" if value.lower() == "off" else str(guard_rules.parse_threshold(value))
    if key == guard_rules.WINDOW_KEY:
        return guard_rules.format_window(guard_rules.parse_window(value))
    if key == inactive.KEY:
        return str(inactive.parse_policy(value))
    raise ValueError(f"Unknown tenant setting {key!r}; known: {', '.join(setting_keys())}.")


@dataclass(frozen=True, slots=True)
class TenantConfig:
    policy: Policy
    rate_limit: str | None  # None: the server default; "" : no limit
    guard: GuardRule | None = None  # the deprovisioning guard (None: off)
    # The built-in schemas plus the tenant's declared extensions (``scimhub schema add``).
    registry: SchemaRegistry = field(default_factory=default_registry)


@dataclass(frozen=True, slots=True)
class GuardDefaults:
    """The server's guard settings (SCIMHUB_GUARD_DEPROVISION_THRESHOLD, SCIMHUB_GUARD_WINDOW_SECONDS)."""

    threshold: str | None = None
    window_seconds: float = guard_rules.DEFAULT_WINDOW_SECONDS

    def rule(self, values: dict[str, str]) -> GuardRule | None:
        threshold = values.get(guard_rules.THRESHOLD_KEY, self.threshold)
        return guard_rules.rule_from(threshold, values.get(guard_rules.WINDOW_KEY), self.window_seconds)


def config_from(
    values: dict[str, str],
    default_policy: Policy,
    guard: GuardDefaults | None = None,
    registry: SchemaRegistry | None = None,
) -> TenantConfig:
    switches = {k.removeprefix(POLICY_PREFIX): v == "on" for k, v in values.items() if k.startswith(POLICY_PREFIX)}
    limit = values.get(RATE_LIMIT_KEY)
    rule = (guard or GuardDefaults()).rule(values)
    return TenantConfig(
        replace(default_policy, **switches), "" if limit == "off" else limit, rule, registry or default_registry()
    )


class TenantConfigCache:
    """Each tenant's config, reread once ``ttl`` seconds old (so a change reaches every instance
    within ``ttl``). At most ``max_cached`` tenants are kept, in refresh order; tenants with no
    settings and no declared schemas (most of them) share one config object.

    Which tenants have settings or schemas is listed in one read, again once ``ttl`` old; only
    those read their own (two reads, which were a fifth of the extra cost of a tenant's first
    request among 10,000 quiet ones). A default config is dated from the listing that found the
    tenant absent, so a setting added since is in force within ``ttl`` as before. Past
    ``max_listed`` such tenants, the listing is dropped and every tenant reads its own.
    """

    def __init__(
        self,
        store: Store,
        default_policy: Policy,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        guard: GuardDefaults | None = None,
        max_cached: int = MAX_CACHED,
        max_listed: int = MAX_LISTED,
    ) -> None:
        self.guard = guard or GuardDefaults()
        self.store = store
        self.default_policy = default_policy
        self.ttl = ttl
        self.clock = clock
        self.max_cached = max_cached
        self._cache: dict[str, tuple[float, TenantConfig]] = {}
        self.max_listed = max_listed
        self._plain = config_from({}, default_policy, self.guard)
        self._configured: set[str] | None = None  # as last listed (None: more than max_listed)
        self._listed_at = -math.inf

    async def get(self, tenant_id: str) -> TenantConfig:
        now = self.clock()
        cache = self._cache
        hit = cache.get(tenant_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        if now - self._listed_at >= self.ttl:
            # Dated before the read: what it lists was true then at least.
            self._configured, self._listed_at = await self.store.configured_tenants(self.max_listed), now
        configured = self._configured
        if configured is not None and tenant_id not in configured:
            config, now = self._plain, self._listed_at
        else:
            declared = await self.store.declared_schemas(tenant_id)
            values = await self.store.tenant_settings(tenant_id)
            if not declared and not values:
                config = self._plain
            else:
                config = config_from(values, self.default_policy, self.guard, tenant_registry(declared))
        if hit is not None:
            del cache[tenant_id]  # to the end: refresh order
        elif len(cache) >= self.max_cached:
            del cache[next(iter(cache))]
        cache[tenant_id] = (now, config)
        return config

    def __len__(self) -> int:
        return len(self._cache)
