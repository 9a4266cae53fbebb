"""The deprovisioning guard and stream hold (tenant_guard) and sync health (tenant_activity,
tenant_request_stats): see scimhub.safety.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_guard",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("window_start", sa.String(32)),
        sa.Column("window_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("window_base", sa.Integer()),
        sa.Column("window_previous", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("held_from_seq", sa.BigInteger()),
        sa.Column("held_kind", sa.String(16)),
        sa.Column("held_reason", sa.Text()),
        sa.Column("held_since", sa.String(32)),
    )
    op.create_table(
        "tenant_activity",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("first_request_at", sa.String(32), nullable=False),
        sa.Column("last_request_at", sa.String(32), nullable=False),
        sa.Column("user_agent", sa.Text()),
    )
    op.create_table(
        "tenant_request_stats",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("hour", sa.String(13), primary_key=True),
        sa.Column("outcome", sa.String(64), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenant_request_stats")
    op.drop_table("tenant_activity")
    op.drop_table("tenant_guard")
