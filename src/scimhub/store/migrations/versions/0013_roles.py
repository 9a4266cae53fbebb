"""Roles from groups: role_rules, user_roles, role_state, role_jobs.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_Pk = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "role_rules",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("role", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("value_key", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        _tenant_fk("role_rules"),
        sa.PrimaryKeyConstraint("id", name="pk_role_rules"),
    )
    op.create_index("ix_role_rules_tenant_id", "role_rules", ["tenant_id"])
    op.create_table(
        "user_roles",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("user_pk", _Pk, nullable=False),
        sa.Column("role", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["resources.pk"], name="fk_user_roles_user_pk_resources", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "user_pk", "role", name="pk_user_roles"),
    )
    op.create_index("ix_user_roles_tenant_id_role_user_pk", "user_roles", ["tenant_id", "role", "user_pk"])
    op.create_table(
        "role_state",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("rules", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("default_role", sa.String(200)),
        _tenant_fk("role_state"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_role_state"),
    )
    op.create_table(
        "role_jobs",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("after_pk", sa.BigInteger(), nullable=False),
        sa.Column("done", sa.BigInteger(), nullable=False),
        sa.Column("changed", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32)),
        _tenant_fk("role_jobs"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_role_jobs"),
    )


def downgrade() -> None:
    op.drop_table("role_jobs")
    op.drop_table("role_state")
    op.drop_table("user_roles")
    op.drop_table("role_rules")
