"""Events outbox, audit log, webhooks and their delivery log, hook offsets.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "tenant_event_seq",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        _tenant_fk("tenant_event_seq"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_event_seq"),
    )
    # Tenants created before this revision need their counter row, or their writes fail.
    op.execute("INSERT INTO tenant_event_seq (tenant_id, last_seq) SELECT id, 0 FROM tenants")
    op.create_table(
        "events",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(36), nullable=False),
        sa.Column("occurred_at", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _tenant_fk("events"),
        sa.PrimaryKeyConstraint("tenant_id", "seq", name="pk_events"),
        sa.UniqueConstraint("id", name="uq_events_id"),
    )
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])
    op.create_table(
        "audit_log",
        sa.Column("pk", _PK, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("occurred_at", sa.String(32), nullable=False),
        sa.Column("token_id", sa.String(36)),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("resource_type", sa.String(32)),
        sa.Column("resource_id", sa.String(36)),
        sa.Column("first_seq", sa.BigInteger()),
        sa.Column("last_seq", sa.BigInteger()),
        sa.Column("detail", sa.Text()),
        _tenant_fk("audit_log"),
        sa.PrimaryKeyConstraint("pk", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_tenant_id_pk", "audit_log", ["tenant_id", "pk"])
    op.create_index("ix_audit_log_occurred_at", "audit_log", ["occurred_at"])
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("delivered_seq", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.String(32)),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", sa.String(32)),
        _tenant_fk("webhooks"),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
    )
    op.create_index("ix_webhooks_tenant_id", "webhooks", ["tenant_id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("pk", _PK, autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.String(32), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("latency_ms", sa.Integer()),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name="fk_webhook_attempts_webhook_id_webhooks", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name="pk_webhook_attempts"),
    )
    op.create_index("ix_webhook_attempts_webhook_id_pk", "webhook_attempts", ["webhook_id", "pk"])
    op.create_index("ix_webhook_attempts_outcome", "webhook_attempts", ["outcome"])
    op.create_table(
        "hook_offsets",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("delivered_seq", sa.BigInteger(), nullable=False),
        _tenant_fk("hook_offsets"),
        sa.PrimaryKeyConstraint("consumer", "tenant_id", name="pk_hook_offsets"),
    )


def downgrade() -> None:
    for table in ("hook_offsets", "webhook_attempts", "webhooks", "audit_log", "events", "tenant_event_seq"):
        op.drop_table(table)
