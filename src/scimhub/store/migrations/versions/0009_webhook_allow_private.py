"""webhooks.allow_private: whether a webhook may be delivered to non-public addresses.

Webhooks added before this revision keep working as they did (true); a new one gets false when
added through the admin API without SCIMHUB_WEBHOOK_ALLOW_PRIVATE, true from the operator's CLI.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("allow_private", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("allow_private")
