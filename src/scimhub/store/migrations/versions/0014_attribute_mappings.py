"""Each tenant's attribute mapping (the app's attribute names → SCIM paths), and an index of the
deactivated users (the directory API's state filter).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
# After roles (merged into this branch); the integrator re-chains the migrations at merge.
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribute_mappings",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("name_key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("path", sa.Text()),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_attribute_mappings_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "name_key", name="pk_attribute_mappings"),
    )
    # Deactivated users only: the directory API's state=inactive pages.
    op.create_index(
        "ix_resources_inactive",
        "resources",
        ["tenant_id", "resource_type", "pk"],
        sqlite_where=sa.text("active = 0"),
        postgresql_where=sa.text("active = false"),
    )


def downgrade() -> None:
    op.drop_index("ix_resources_inactive", "resources")
    op.drop_table("attribute_mappings")
