"""SQLAlchemy Core table definitions: one schema for SQLite and PostgreSQL.

Alembic migrations (``store/migrations``) create exactly these tables; a test checks
that the migrated database matches this metadata.
"""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import text
from sqlalchemy import true
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Integer surrogate keys: SQLite aliases INTEGER PRIMARY KEY to the rowid (clustered);
# BigInteger becomes BIGSERIAL-style identity on PostgreSQL.
_Pk = BigInteger().with_variant(Integer(), "sqlite")

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("prefix", String(20), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("last_used_at", String(32)),
    Column("expires_at", String(32)),
    Column("revoked_at", String(32)),
    Index(None, "tenant_id"),
)

# One row (id 1): how many times any process changed a token's validity (revoked it, re-dated it,
# deleted it). Triggers on ``tokens`` count (migration 0019), so a server polls one row a second
# instead of rereading the row of every token it trusts.
token_changes = Table(
    "token_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("changes", BigInteger, nullable=False),
)

# One row per SCIM resource. ``doc`` is the canonical JSON document (without id, meta and
# derived/relational attributes); the k_* columns hold comparison keys (NFC + casefold unless
# caseExact) of the attributes filters look up by equality.
resources = Table(
    "resources",
    metadata,
    Column("pk", _Pk, primary_key=True, autoincrement=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("id", String(36), nullable=False),
    Column("doc", Text, nullable=False),
    # PostgreSQL only (NULL on SQLite): the document with every string replaced by its comparison
    # key, GIN-indexed, so `eq` on any attribute is an index probe (`doc_keys @> {...}`) and every
    # other filter compares keys without folding in SQL.
    Column("doc_keys", Text().with_variant(JSONB(), "postgresql")),
    Column("created", String(32), nullable=False),
    Column("last_modified", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("active", Boolean),
    Column("display", Text),
    Column("k_user_name", Text),
    Column("k_external_id", Text),
    Column("k_display_name", Text),
    UniqueConstraint("tenant_id", "id"),
    # userName is uniqueness=server (RFC 7643 §4.1): enforced here so two concurrent creates
    # cannot both commit. NULLs never collide (Groups have none).
    UniqueConstraint("tenant_id", "resource_type", "k_user_name"),
    Index(None, "tenant_id", "resource_type", "pk"),
    Index(None, "tenant_id", "resource_type", "k_external_id"),
    Index(None, "tenant_id", "resource_type", "k_display_name"),
    Index(
        "ix_resources_doc_keys",
        "doc_keys",
        postgresql_using="gin",
        postgresql_ops={"doc_keys": "jsonb_path_ops"},
        sqlite_where=text("doc_keys IS NOT NULL"),  # always empty on SQLite: costs no write
    ),
    # The directory API's state=inactive filter (scimhub.directory): only deactivated rows are in
    # it, so it costs a write only when a user is (de)activated, and a page of inactive users
    # reads a page of the index however few they are.
    Index(
        "ix_resources_inactive",
        "tenant_id",
        "resource_type",
        "pk",
        sqlite_where=text("active = 0"),
        postgresql_where=text("active = false"),
    ),
)

# What a StoredResource is read from, in its field order (every read of a resource selects these).
RESOURCE_COLUMNS = (
    resources.c.id,
    resources.c.resource_type,
    resources.c.doc,
    resources.c.created,
    resources.c.last_modified,
    resources.c.version,
)

# Comparison keys of multi-valued attributes that are looked up by equality (emails.value):
# one row per element, so `emails.value eq "x"` is an index probe, not a JSON scan.
resource_values = Table(
    "resource_values",
    metadata,
    Column("resource_pk", _Pk, ForeignKey("resources.pk", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", String(36), nullable=False),
    Column("path", String(64), nullable=False),
    Column("value_key", Text, nullable=False),
    Index(None, "tenant_id", "path", "value_key"),
    Index(None, "resource_pk"),
)

# Group membership: one row per member, so adding one member to a group of a million is one
# INSERT. ``member_type`` is "User" or "Group" (RFC 7643 §4.2 members.type).
group_members = Table(
    "group_members",
    metadata,
    Column("tenant_id", String(36), nullable=False),
    Column("group_pk", _Pk, ForeignKey("resources.pk", ondelete="CASCADE"), nullable=False),
    Column("member_pk", _Pk, ForeignKey("resources.pk", ondelete="CASCADE"), nullable=False),
    Column("member_type", String(16), nullable=False),
    UniqueConstraint("group_pk", "member_pk"),
    Index(None, "member_pk"),
)

# Server-wide secrets shared by every instance on the database (e.g. the cursor signing key).
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),
)

# Transactional outbox: events commit with the change that caused them. ``seq`` is gapless per
# tenant, allocated from tenants.event_seq under the tenant row's write lock (so seq order is
# commit order; PostgreSQL sequences can commit out of order).
tenant_event_seq = Table(
    "tenant_event_seq",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("id", String(36), nullable=False),  # a UUID made here; never looked up (no index)
    Column("type", String(40), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("resource_id", String(36), nullable=False),
    Column("occurred_at", String(32), nullable=False),  # retention walks seq order instead of an index
    Column("payload", Text, nullable=False),
)

# Audit log: one row per write request (who, what, when, result).
audit_log = Table(
    "audit_log",
    metadata,
    Column("pk", _Pk, primary_key=True, autoincrement=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("occurred_at", String(32), nullable=False),
    Column("token_id", String(36)),
    Column("method", String(10), nullable=False),
    Column("path", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("resource_type", String(32)),
    Column("resource_id", String(36)),
    Column("first_seq", BigInteger),
    Column("last_seq", BigInteger),
    Column("detail", Text),
    Index(None, "tenant_id", "pk"),  # retention walks pk order; occurred_at has no index
)

# Webhook endpoints of a tenant. ``delivered_seq`` is the consumer cursor: events are delivered in
# seq order, one at a time, by whichever instance holds the lease.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", String(100), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("delivered_seq", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(32)),
    Column("lease_owner", String(64)),
    Column("lease_until", String(32)),
    # False: delivered to public addresses only (scimhub.events.destinations); true for rows
    # older than migration 0009, which were never checked.
    Column("allow_private", Boolean, nullable=False, server_default=true()),
    # Events one delivery request may carry: 1 (Standard Webhooks, one message a request) or more
    # (opt-in batch delivery, scimhub.events.batch). Migration 0017.
    Column("batch_size", Integer, nullable=False, server_default=text("1")),
    Index(None, "tenant_id"),
)

# Every delivery attempt (the delivery log), and dead letters (outcome "dead").
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("pk", _Pk, primary_key=True, autoincrement=True),
    Column("webhook_id", String(36), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", String(36), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", String(32), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("latency_ms", Integer),
    Column("outcome", String(16), nullable=False),  # delivered | retry | dead | redelivered
    Index(None, "webhook_id", "pk"),
    Index(None, "outcome"),
)

# In-process hook consumers' cursors, per tenant (hooks are retried from the outbox).
hook_offsets = Table(
    "hook_offsets",
    metadata,
    Column("consumer", String(100), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("delivered_seq", BigInteger, nullable=False),
)

# Exact per-tenant resource counts, kept in the write transaction, so an unfiltered list's
# totalResults is one row read instead of a count over the whole tenant.
resource_counts = Table(
    "resource_counts",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("resource_type", String(32), primary_key=True),
    Column("count", BigInteger, nullable=False),
    # Deletions ever made: while it stands still no row left the list, so a position seen in it
    # (the pk that ends page k of a startIndex walk) still ends page k (store/positions.py).
    Column("removed", BigInteger, nullable=False, server_default="0"),
)

# Per-tenant settings set by operators (`scimhub tenant set`): policy switches, rate limit.
tenant_settings = Table(
    "tenant_settings",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# The last SCIM requests of each tenant, for IdP debugging (redacted, size-capped bodies).
request_log = Table(
    "request_log",
    metadata,
    Column("pk", _Pk, primary_key=True, autoincrement=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("at", String(32), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("token_id", String(36)),
    Column("method", String(10), nullable=False),
    Column("path", Text, nullable=False),
    Column("query", Text),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("error", Text),
    Column("request_body", Text),
    Column("response_body", Text),
    Column("ignored", Text),  # JSON array of the unknown attribute names the request's write ignored
    Index(None, "tenant_id", "pk"),
)

# Extension schemas declared per tenant (`scimhub schema add`): the canonical RFC 7643 §7
# document, keyed by the casefolded URN so two spellings of one URN cannot both be declared.
tenant_schemas = Table(
    "tenant_schemas",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("urn_key", String(256), primary_key=True),
    Column("urn", String(256), nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("document", Text, nullable=False),
    Column("required", Boolean, nullable=False),
    Column("indexed", Text, nullable=False),  # JSON array of the attribute names filters index
    Column("updated_at", String(32), nullable=False),
)

# Each tenant's attribute mapping (scimhub.directory.attributes): an app attribute name (keyed
# casefolded) and the SCIM path it reads; a NULL path removes a default name.
attribute_mappings = Table(
    "attribute_mappings",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("name_key", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("path", Text),
    Column("updated_at", String(32), nullable=False),
)

# -- RFC 9967 Security Event Tokens (scimhub.sets) --------------------------------------------
# Each tenant's SET signing keys (private JWK JSON). One is "active" (signs and is published);
# a rotated-out key stays "published" (SETs it signed still verify) until retired.
set_signing_keys = Table(
    "set_signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("alg", String(16), nullable=False),
    Column("private_jwk", Text, nullable=False),
    Column("state", String(16), nullable=False),  # active | published | retired
    Column("created_at", String(32), nullable=False),
    Index(None, "tenant_id"),
)

# SET streams: a push stream (RFC 8935) is delivered like a webhook (cursor, lease, retry
# state); a poll stream (RFC 8936) has a bearer token (digest) and its acks above the cursor.
set_streams = Table(
    "set_streams",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("mode", String(8), nullable=False),  # push | poll
    Column("url", Text),
    Column("audience", Text, nullable=False),
    Column("issuer", Text, nullable=False),
    Column("full", Boolean, nullable=False),
    Column("token_digest", String(64)),
    Column("created_at", String(32), nullable=False),
    Column("delivered_seq", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String(32)),
    Column("lease_owner", String(64)),
    Column("lease_until", String(32)),
    Column("allow_private", Boolean, nullable=False),
    Index(None, "tenant_id"),
)

# Poll streams: SETs acknowledged out of order, above the stream's cursor (delivered_seq).
set_acks = Table(
    "set_acks",
    metadata,
    Column("stream_id", String(36), ForeignKey("set_streams.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
)

# The delivery log of SET streams (push attempts; poll acknowledgements and errors).
set_attempts = Table(
    "set_attempts",
    metadata,
    Column("pk", _Pk, primary_key=True, autoincrement=True),
    Column("stream_id", String(36), ForeignKey("set_streams.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", String(36), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", String(32), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("latency_ms", Integer),
    Column("outcome", String(16), nullable=False),
    Index(None, "stream_id", "pk"),
)

# The deprovisioning guard and the hold of a tenant's event stream (scimhub.safety). One row per
# tenant, made on its first guarded deprovisioning or hold. Consumers (webhook lanes, in-process
# hooks, the feed) read only events with seq < held_from_seq while it is set.
tenant_guard = Table(
    "tenant_guard",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("window_start", String(32)),  # when the current guard window began (None: none yet)
    Column("window_count", Integer, nullable=False, server_default=text("0")),  # deprovisions in it
    Column("window_base", Integer),  # active users when it began (percentage thresholds)
    Column("window_previous", Integer, nullable=False, server_default=text("0")),  # the window before it
    Column("held_from_seq", BigInteger),  # NULL: not held
    Column("held_kind", String(16)),  # guard | pause
    Column("held_reason", Text),
    Column("held_since", String(32)),
)

# Sync health (scimhub.safety.health): each tenant's SCIM traffic, written by each process at most
# once a second from counters kept in memory (never a write per request).
tenant_activity = Table(
    "tenant_activity",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("first_request_at", String(32), nullable=False),
    Column("last_request_at", String(32), nullable=False),
    Column("user_agent", Text),  # of the latest request
)

# Requests per tenant and hour by outcome ("ok", or the status and scimType of an error).
tenant_request_stats = Table(
    "tenant_request_stats",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("hour", String(13), primary_key=True),  # 2026-12-07T09
    Column("outcome", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
)

# Roles from groups (scimhub.directory.roles): a tenant's rules naming an IdP group (by
# displayName, id or externalId) or a value of a user's SCIM `roles`, and the role it gives.
role_rules = Table(
    "role_rules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # group | group_id | group_external_id | scim_role
    Column("value", Text, nullable=False),  # as the operator gave it
    Column("value_key", Text, nullable=False),  # what is compared (casefolded unless an id)
    Column("priority", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Index(None, "tenant_id"),
)

# Each user's effective roles, kept in the transaction of every write that decides them.
user_roles = Table(
    "user_roles",
    metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("user_pk", _Pk, ForeignKey("resources.pk", ondelete="CASCADE"), primary_key=True),
    Column("role", String(200), primary_key=True),
    Index(None, "tenant_id", "role", "user_pk"),
    # The cascade of a resource's deletion finds its rows by user_pk alone: without this index
    # every deletion read all of user_roles (every tenant's, a row per user given a default role).
    Index(None, "user_pk"),
)

# One row per tenant that has (or had) role rules: ``version`` moves with every change of the
# rules, the mode or the default, and is read (PostgreSQL: FOR SHARE) by each write that may
# change roles, so no write computes with rules older than its transaction. ``rules`` counts them.
role_state = Table(
    "role_state",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("rules", Integer, nullable=False),
    Column("mode", String(16), nullable=False),  # all | highest
    Column("default_role", String(200)),
)

# The recompute after a change of the rules: every user of the tenant, a batch a transaction,
# in pk order after ``after_pk``; ``finished_at`` set when it has gone through them all.
role_jobs = Table(
    "role_jobs",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("after_pk", BigInteger, nullable=False),
    Column("done", BigInteger, nullable=False),
    Column("changed", BigInteger, nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
)
# Setup links (scimhub.console.setup): a signed, expiring, revocable URL that lets one tenant's IdP
# admin connect their IdP. Only the link's HMAC digest is stored; `tokens_issued` counts the SCIM
# tokens generated through it (capped per link).
setup_links = Table(
    "setup_links",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
    Column("last_used_at", String(32)),
    Column("tokens_issued", Integer, nullable=False, server_default=text("0")),
    Index(None, "tenant_id"),
)
