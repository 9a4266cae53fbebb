"""webhooks.batch_size: how many events one delivery request may carry (1: one event per request,
as Standard Webhooks sends them; more: the opt-in batch delivery of scimhub.events.batch).

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("batch_size", sa.Integer(), nullable=False, server_default=sa.text("1")))


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("batch_size")
