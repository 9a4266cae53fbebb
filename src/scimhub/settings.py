"""Settings: a frozen dataclass read from SCIMHUB_* environment variables (the only reader)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import fields

from scimhub.limits import DEFAULT_LIMITS
from scimhub.limits import InputLimits
from scimhub.policy import Policy

# Per tenant and per token (`limits` syntax). Here, not in scimhub.ratelimit: importing the
# `limits` library costs ~90 ms, and every CLI command reads Settings.
DEFAULT_RATE_LIMIT = "100/second;3000/minute"

# Shortest SCIMHUB_ADMIN_TOKEN and SCIMHUB_METRICS_TOKEN accepted: secrets.token_urlsafe(32) makes 43.
MIN_TOKEN_LENGTH = 32
_TOKENS = ("admin_token", "metrics_token")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every field is the variable ``SCIMHUB_<FIELD NAME IN CAPITALS>``; see the README table."""

    database_url: str = "sqlite:///scimhub.db"
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str | None = None  # public URL of the SCIM root, e.g. https://id.example.com/scim/v2
    # Public URL of the server (no path: https://id.example.com), for setup links the CLI prints;
    # unset: SCIMHUB_BASE_URL without /scim/v2, else http://HOST:PORT.
    public_url: str | None = None
    max_results: int = 1000  # cap on count (advertised as filter.maxResults)
    max_body_bytes: int = 4 * 1024 * 1024  # 413 above this (advertised as bulk.maxPayloadSize)
    # Operations in one bulk request (bulk.maxOperations); 0: no /Bulk. The rate limit counts
    # operations: the default fits the default 100 per second, so a bulk of the maximum runs whole.
    bulk_max_operations: int = 100
    token_pepper: str | None = None  # optional server secret: tokens are stored as HMAC-SHA256
    token_recheck_seconds: float = 1.0  # a token revoked or re-dated by another process is refused within this
    database_pool_size: int = 10  # PostgreSQL: connections each process keeps open (0: none, open per use)
    database_max_overflow: int = 10  # PostgreSQL: extra connections under bursts, closed when idle
    database_pgbouncer: bool = False  # PostgreSQL behind PgBouncer in transaction mode: no statement caches
    sqlite_synchronous: str = "NORMAL"  # NORMAL survives a killed process; FULL a power loss
    auto_migrate: bool = True  # `serve` migrates a SQLite database on start
    log_level: str = "INFO"
    strict_rfc: bool = False  # turn every IdP leniency switch off (see scimhub.policy)
    # Directory sync (events feed, webhooks, audit): see the README "Directory sync" section.
    admin_token: str | None = None  # bearer token of the admin API (/admin/v1); unset: admin API off (404)
    event_retention_days: int = 30  # events (and the delivery log) older than this are purged; 0 keeps all
    audit_retention_days: int = 365  # audit entries older than this are purged; 0 keeps all
    webhook_max_attempts: int = 16  # failed attempts before an event is dead-lettered
    webhook_timeout_seconds: float = 10.0  # deadline of one delivery attempt: connect, send, whole response
    webhook_concurrency: int = 16  # webhooks one process delivers to at once (each in its own lane)
    webhook_allow_private: bool = False  # admin API webhooks may target loopback/private/link-local addresses
    webhook_backoff_base_seconds: float = 2.0  # first retry delay; doubles per attempt (with jitter)
    webhook_backoff_max_seconds: float = 3600.0  # cap on one retry delay
    sets_poll_wait_seconds: float = 30.0  # RFC 8936 long poll: how long a poll without SETs waits for some
    hook_timeout_seconds: float = 10.0  # per in-process hook call
    worker_enabled: bool = True  # run the webhook delivery worker (and retention purge) in this process
    worker_poll_seconds: float = 2.0  # how often the worker looks for other processes' commits
    max_string_length: int = DEFAULT_LIMITS.max_string_length
    max_members_per_request: int = DEFAULT_LIMITS.max_members_per_request
    max_patch_operations: int = DEFAULT_LIMITS.max_patch_operations
    max_filter_length: int = DEFAULT_LIMITS.max_filter_length
    max_filter_depth: int = DEFAULT_LIMITS.max_filter_depth
    max_values_per_attribute: int = DEFAULT_LIMITS.max_values_per_attribute
    max_patch_comparisons: int = DEFAULT_LIMITS.max_patch_comparisons
    max_resource_bytes: int = DEFAULT_LIMITS.max_resource_bytes
    # A filter or sortBy no index answers runs off the event loop and is stopped after this
    # (400 tooMany); 0: no limit.
    query_timeout_seconds: float = 3.0
    rate_limit: str = DEFAULT_RATE_LIMIT  # per tenant and per token, `limits` syntax; "" disables
    rate_limit_storage: str = "memory://"  # or redis://host:port to share counters between instances
    request_log_size: int = 1000  # last SCIM requests kept per tenant (0 disables the request log)
    request_log_body_bytes: int = 4096  # bodies are redacted and cut to this size
    shutdown_grace_seconds: int = 30  # SIGTERM: in-flight requests get this long to finish
    metrics_enabled: bool = True  # /metrics when the `metrics` extra (prometheus-client) is installed
    metrics_token: str | None = None  # bearer token of /metrics (the admin token works too)
    # Safety rails and sync health (scimhub.safety): see the README "Deprovisioning guard" section.
    guard_deprovision_threshold: str | None = None  # e.g. 50 or 10%: hold a tenant's events past it; unset: off
    guard_window_seconds: float = 3600.0  # the window the guard counts deprovisionings in
    status_idle_seconds: float = 86400.0  # a tenant whose IdP sent nothing for this long is `idle`
    status_failing_error_rate: float = 0.5  # a tenant whose last hour's requests failed above this rate is `failing`
    metrics_public: bool = False  # /metrics without a token (it names tenants and their traffic)

    def __post_init__(self) -> None:
        for name in _TOKENS:
            token = getattr(self, name)
            if token and len(token) < MIN_TOKEN_LENGTH:  # the value itself is never echoed
                raise ValueError(
                    f"SCIMHUB_{name.upper()} must be at least {MIN_TOKEN_LENGTH} characters, got {len(token)}; "
                    "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                )
        # Without a lane nothing is ever delivered; a zero deadline fails every attempt.
        if self.webhook_concurrency < 1:
            raise ValueError(f"SCIMHUB_WEBHOOK_CONCURRENCY must be at least 1, got {self.webhook_concurrency}")
        if not 0 <= self.status_failing_error_rate <= 1:
            raise ValueError(
                f"SCIMHUB_STATUS_FAILING_ERROR_RATE must be a rate from 0 to 1, got {self.status_failing_error_rate:g}"
            )
        if self.guard_deprovision_threshold:
            from scimhub.safety.guard import parse_threshold  # here: only when it is set

            try:
                parse_threshold(self.guard_deprovision_threshold)
            except ValueError:
                raise ValueError(
                    "SCIMHUB_GUARD_DEPROVISION_THRESHOLD takes a count such as 50 or a percentage such as 10%, "
                    f"not {self.guard_deprovision_threshold!r}"
                ) from None
        if self.webhook_timeout_seconds <= 0:
            raise ValueError(f"SCIMHUB_WEBHOOK_TIMEOUT_SECONDS must be above 0, got {self.webhook_timeout_seconds:g}")

    @property
    def public_root(self) -> str:
        """The server's public URL without a trailing slash (SCIMHUB_PUBLIC_URL, else derived)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        if self.base_url and self.base_url.rstrip("/").endswith("/scim/v2"):
            return self.base_url.rstrip("/").removesuffix("/scim/v2")
        return f"http://{self.host}:{self.port}"

    @property
    def limits(self) -> InputLimits:
        return InputLimits(
            self.max_string_length,
            self.max_members_per_request,
            self.max_patch_operations,
            self.max_filter_length,
            self.max_filter_depth,
            self.max_values_per_attribute,
            self.max_patch_comparisons,
            self.max_resource_bytes,
        )

    @property
    def policy(self) -> Policy:
        return Policy.strict() if self.strict_rfc else Policy()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"SCIMHUB_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _convert(f.name, raw, str(f.type))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _convert(name: str, raw: str, kind: str) -> object:
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"SCIMHUB_{name.upper()} must be an integer, got {raw!r}") from None
    if kind == "float":  # every float setting is a number of seconds
        try:
            seconds = float(raw)
        except ValueError:
            raise ValueError(f"SCIMHUB_{name.upper()} must be a number, got {raw!r}") from None
        if not math.isfinite(seconds) or seconds < 0:  # a NaN interval would never elapse
            raise ValueError(f"SCIMHUB_{name.upper()} must be a finite number of seconds >= 0, got {raw!r}")
        return seconds
    if kind == "bool":
        if raw.strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise ValueError(f"SCIMHUB_{name.upper()} must be true or false, got {raw!r}")
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return raw
