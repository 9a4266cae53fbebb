"""Resource counts, tenant settings, request log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "resource_counts",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        _tenant_fk("resource_counts"),
        sa.PrimaryKeyConstraint("tenant_id", "resource_type", name="pk_resource_counts"),
    )
    op.execute(
        "INSERT INTO resource_counts (tenant_id, resource_type, count) "
        "SELECT tenant_id, resource_type, COUNT(*) FROM resources GROUP BY tenant_id, resource_type"
    )
    op.create_table(
        "tenant_settings",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _tenant_fk("tenant_settings"),
        sa.PrimaryKeyConstraint("tenant_id", "key", name="pk_tenant_settings"),
    )
    op.create_table(
        "request_log",
        sa.Column("pk", _PK, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("token_id", sa.String(36)),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("query", sa.Text()),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("request_body", sa.Text()),
        sa.Column("response_body", sa.Text()),
        _tenant_fk("request_log"),
        sa.PrimaryKeyConstraint("pk", name="pk_request_log"),
    )
    op.create_index("ix_request_log_tenant_id_pk", "request_log", ["tenant_id", "pk"])


def downgrade() -> None:
    for table in ("request_log", "tenant_settings", "resource_counts"):
        op.drop_table(table)
