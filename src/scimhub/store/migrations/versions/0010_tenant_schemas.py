"""Extension schemas declared per tenant; the request log lists the attributes a write ignored.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_schemas",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("urn_key", sa.String(256), nullable=False),
        sa.Column("urn", sa.String(256), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("indexed", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_schemas_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "urn_key", name="pk_tenant_schemas"),
    )
    op.add_column("request_log", sa.Column("ignored", sa.Text()))  # nullable: no table rewrite


def downgrade() -> None:
    with op.batch_alter_table("request_log") as batch:
        batch.drop_column("ignored")
    op.drop_table("tenant_schemas")
