"""Initial schema: tenants, tokens, resources, resource_values, group_members.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("prefix", sa.String(20), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("last_used_at", sa.String(32)),
        sa.Column("expires_at", sa.String(32)),
        sa.Column("revoked_at", sa.String(32)),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_tokens_tenant_id_tenants", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.UniqueConstraint("digest", name="uq_tokens_digest"),
    )
    op.create_index("ix_tokens_tenant_id", "tokens", ["tenant_id"])
    op.create_table(
        "resources",
        sa.Column("pk", _PK, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("last_modified", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean()),
        sa.Column("display", sa.Text()),
        sa.Column("k_user_name", sa.Text()),
        sa.Column("k_external_id", sa.Text()),
        sa.Column("k_display_name", sa.Text()),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_resources_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name="pk_resources"),
        sa.UniqueConstraint("tenant_id", "id", name="uq_resources_tenant_id_id"),
        sa.UniqueConstraint(
            "tenant_id",
            "resource_type",
            "k_user_name",
            name="uq_resources_tenant_id_resource_type_k_user_name",
        ),
    )
    op.create_index("ix_resources_tenant_id_resource_type_pk", "resources", ["tenant_id", "resource_type", "pk"])
    op.create_index(
        "ix_resources_tenant_id_resource_type_k_external_id",
        "resources",
        ["tenant_id", "resource_type", "k_external_id"],
    )
    op.create_index(
        "ix_resources_tenant_id_resource_type_k_display_name",
        "resources",
        ["tenant_id", "resource_type", "k_display_name"],
    )
    op.create_table(
        "resource_values",
        sa.Column("resource_pk", _PK, nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("path", sa.String(64), nullable=False),
        sa.Column("value_key", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_pk"],
            ["resources.pk"],
            name="fk_resource_values_resource_pk_resources",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_resource_values_tenant_id_path_value_key", "resource_values", ["tenant_id", "path", "value_key"]
    )
    op.create_index("ix_resource_values_resource_pk", "resource_values", ["resource_pk"])
    op.create_table(
        "group_members",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("group_pk", _PK, nullable=False),
        sa.Column("member_pk", _PK, nullable=False),
        sa.Column("member_type", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_pk"], ["resources.pk"], name="fk_group_members_group_pk_resources", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_pk"], ["resources.pk"], name="fk_group_members_member_pk_resources", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("group_pk", "member_pk", name="uq_group_members_group_pk_member_pk"),
    )
    op.create_index("ix_group_members_member_pk", "group_members", ["member_pk"])


def downgrade() -> None:
    for table in ("group_members", "resource_values", "resources", "tokens", "tenants"):
        op.drop_table(table)
