"""resources.doc_keys: the comparison-key document, GIN-indexed on PostgreSQL.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Only PostgreSQL fills the column; resources written before this revision on PostgreSQL
    # do not exist (PostgreSQL support starts here).
    with op.batch_alter_table("resources") as batch:
        batch.add_column(sa.Column("doc_keys", sa.Text().with_variant(JSONB(), "postgresql"), nullable=True))
    op.create_index(
        "ix_resources_doc_keys",
        "resources",
        ["doc_keys"],
        postgresql_using="gin",
        postgresql_ops={"doc_keys": "jsonb_path_ops"},
        sqlite_where=sa.text("doc_keys IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_resources_doc_keys", "resources")
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("doc_keys")
