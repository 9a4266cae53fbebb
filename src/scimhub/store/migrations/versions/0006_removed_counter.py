"""resource_counts.removed: how many resources of a type a tenant has ever deleted.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("resource_counts") as batch:
        batch.add_column(sa.Column("removed", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("resource_counts") as batch:
        batch.drop_column("removed")
