"""Setup links (setup_links): signed, expiring, revocable URLs of a tenant's IdP setup page.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "setup_links",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32)),
        sa.Column("last_used_at", sa.String(32)),
        sa.Column("tokens_issued", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_setup_links_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_setup_links"),
        sa.UniqueConstraint("digest", name="uq_setup_links_digest"),
    )
    op.create_index("ix_setup_links_tenant_id", "setup_links", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_setup_links_tenant_id", table_name="setup_links")
    op.drop_table("setup_links")
