"""user_roles indexed by user_pk: the ON DELETE CASCADE of a resource's deletion looks its rows up by
user_pk alone, which no index led with (the primary key starts with tenant_id), so every deletion
of a user or group read the whole table.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_user_roles_user_pk", "user_roles", ["user_pk"])


def downgrade() -> None:
    op.drop_index("ix_user_roles_user_pk", table_name="user_roles")
